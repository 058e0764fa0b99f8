"""Flow layers invert to numerical precision and report log |det J| equal to autograd's."""

from __future__ import annotations

import pytest
import torch

from zoo.nn.flows import ActNorm, AffineCoupling, FlowStep, InvConv2dLU, LogitTransform, squeeze, unsqueeze

SHAPE = (1, 4, 2, 2)  # 16 dimensions: a Jacobian autograd computes in milliseconds


def autograd_logdet(fn, x: torch.Tensor) -> torch.Tensor:
    """log |det d fn(x) / dx| for a single example, by the full Jacobian."""
    jac = torch.autograd.functional.jacobian(lambda v: fn(v.view(x.shape)).flatten(), x.flatten())
    return torch.linalg.slogdet(jac.double())[1].float()


def layers():
    torch.manual_seed(0)
    actnorm = ActNorm(4)
    actnorm.initialize(torch.randn(8, 4, 2, 2) * 3 + 1)
    coupling = AffineCoupling(4, hidden=8)
    additive = AffineCoupling(4, hidden=8, additive=True)
    step = FlowStep(4, hidden=8)
    step.actnorm.initialize(torch.randn(8, 4, 2, 2))
    for net in (coupling, additive, step):  # leave the zero-initialised identity: test a generic map
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.3 * torch.randn_like(p))
    return {"actnorm": actnorm, "invconv": InvConv2dLU(4), "affine": coupling, "additive": additive, "step": step}


@pytest.mark.parametrize("name", ["actnorm", "invconv", "affine", "additive", "step"])
def test_layer_inverts_and_its_logdet_matches_autograd(name):
    layer = layers()[name]
    x = torch.randn(3, *SHAPE[1:])
    y, logdet = layer(x)
    assert torch.allclose(layer.inverse(y), x, atol=1e-4)
    for i in range(3):
        expected = autograd_logdet(lambda v: layer(v)[0], x[i : i + 1])
        assert logdet[i].item() == pytest.approx(expected.item(), abs=1e-3)


@pytest.mark.parametrize("alpha", [1e-6, 0.05])
def test_logit_preprocessing_inverts_and_its_logdet_matches_autograd(alpha):
    layer = LogitTransform(alpha)
    x = torch.rand(3, *SHAPE[1:]) - 0.5  # the flow's input range [-0.5, 0.5)
    x[0, 0, 0, 0] = -0.5  # a saturated pixel stays finite
    y, logdet = layer(x)
    assert torch.isfinite(y).all()
    assert torch.allclose(layer.inverse(y), x, atol=1e-5)
    for i in range(3):
        expected = autograd_logdet(lambda v: layer(v)[0], x[i : i + 1])
        assert logdet[i].item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-3)


def test_invertibility_and_logdet_survive_optimizer_steps():
    torch.manual_seed(0)
    step = FlowStep(4, hidden=8)
    opt = torch.optim.Adam(step.parameters(), lr=0.05)
    data = torch.randn(16, *SHAPE[1:]) * 2
    for _ in range(20):  # maximum likelihood under N(0, I): drives every parameter
        y, logdet = step(data)
        loss = (0.5 * y.pow(2).flatten(1).sum(1) - logdet).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randn(2, *SHAPE[1:])
    y, logdet = step(x)
    assert torch.allclose(step.inverse(y), x, atol=1e-4)
    assert logdet[0].item() == pytest.approx(autograd_logdet(lambda v: step(v)[0], x[:1]).item(), abs=1e-3)
    w = step.invconv.weight()
    assert torch.linalg.matrix_rank(w) == 4  # the LU parameterisation keeps W invertible


def test_actnorm_first_batch_gives_zero_mean_unit_variance_per_channel():
    actnorm = ActNorm(3)
    x = torch.randn(64, 3, 5, 5) * torch.tensor([0.1, 2.0, 7.0]).view(1, 3, 1, 1) + torch.tensor([5.0, -1.0, 0.3]).view(
        1, 3, 1, 1
    )
    y, _ = actnorm(x)
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)


def test_actnorm_does_not_initialise_again_after_loading_a_checkpoint():
    trained = ActNorm(2)
    trained(torch.randn(10, 2, 3, 3) * 4)
    restored = ActNorm(2)
    restored.load_state_dict(trained.state_dict())
    other_batch = torch.randn(10, 2, 3, 3) * 100
    assert torch.allclose(restored(other_batch)[0], trained(other_batch)[0])
    assert bool(restored.initialized)


def test_squeeze_is_a_lossless_rearrangement():
    x = torch.arange(2 * 3 * 4 * 4.0).view(2, 3, 4, 4)
    s = squeeze(x)
    assert s.shape == (2, 12, 2, 2)
    assert torch.equal(unsqueeze(s), x)
    assert torch.equal(s[0, :4, 0, 0], torch.tensor([0.0, 1.0, 4.0, 5.0]))  # one 2x2 patch -> 4 channels


def perturbed(net: torch.nn.Module) -> torch.nn.Module:
    """Leave the zero-initialised identity, so that a test exercises a generic map."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


@pytest.mark.parametrize("atan_clamp", [None, 2.0], ids=["sigmoid", "atan"])
def test_a_coupling_conditioned_on_a_feature_map_inverts_and_its_logdet_matches_autograd(atan_clamp):
    """The cINN's block: the condition c enters the sub-network only, so for any fixed c the map
    x -> y inverts exactly and its log-det is the Jacobian's; a different c gives a different map."""
    torch.manual_seed(0)
    layers = {
        "coupling": perturbed(AffineCoupling(4, hidden=8, cond_channels=3, atan_clamp=atan_clamp)),
        "step": perturbed(FlowStep(4, hidden=8, cond_channels=3, atan_clamp=atan_clamp)),
    }
    x, cond = torch.randn(3, *SHAPE[1:]), torch.randn(3, 3, 2, 2)
    for name, layer in layers.items():
        y, logdet = layer(x, cond=cond)
        assert torch.allclose(layer.inverse(y, cond=cond), x, atol=1e-4), name
        for i in range(3):
            c = cond[i : i + 1]
            expected = autograd_logdet(lambda v, c=c, layer=layer: layer(v, cond=c)[0], x[i : i + 1])
            assert logdet[i].item() == pytest.approx(expected.item(), abs=1e-3), name
        other, _ = layer(x, cond=cond + 1.0)
        assert (other - y).abs().max() > 1e-3, f"{name}: the condition does not change the map"
        with pytest.raises(ValueError, match="needs a condition"):
            layer(x)


def test_the_atan_clamp_bounds_the_log_scale_whatever_the_network_says():
    coupling = AffineCoupling(4, hidden=8, cond_channels=1, atan_clamp=1.5)
    with torch.no_grad():
        coupling.net.net[-1].conv.bias.fill_(1e4)  # an exploding sub-network
    _, logdet = coupling(torch.randn(2, 4, 2, 2), cond=torch.randn(2, 1, 2, 2))
    assert (logdet.abs() <= 1.5 * 8 + 1e-4).all()  # 8 transformed values, |log s| < 1.5 each
