"""Glow: the whole flow inverts and its log-determinant matches autograd; bits/dim are counted as in
the paper; training lowers them; conditional sampling draws the requested class."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import tiny_bundle
from tests.nn.test_flows import autograd_logdet
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.glow import Glow
from zoo.optim import Stepper


def glow(size=4, channels=1, K=2, L=2, **kw) -> Glow:
    torch.manual_seed(0)
    model = Glow(DataInfo("x", channels, size, kw.pop("num_classes", 0)), K=K, L=L, hidden_channels=8, **kw)
    Stepper(model)
    return model


def perturb(model: Glow, scale: float = 0.2) -> None:
    """Move every parameter away from its (identity-like) initialisation."""
    model.flow(torch.rand(8, model.info.channels, model.info.image_size, model.info.image_size) - 0.5)  # ActNorm init
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))


def flat_z(model: Glow, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([z.flatten(1) for z in model.flow(x)[0]], dim=1)


@pytest.mark.parametrize(("coupling", "logit_alpha"), [("affine", None), ("additive", None), ("affine", 1e-6)])
def test_whole_flow_inverts_and_logdet_matches_autograd(coupling, logit_alpha):
    model = glow(coupling=coupling, logit_alpha=logit_alpha)
    perturb(model)
    x = torch.rand(3, 1, 4, 4) - 0.5
    zs, logdet, _ = model.flow(x)
    assert torch.allclose(model.inverse_flow(zs), x, atol=1e-4)
    for i in range(3):
        expected = autograd_logdet(lambda v: flat_z(model, v), x[i : i + 1])
        assert logdet[i].item() == pytest.approx(expected.item(), abs=1e-3)


def test_invertibility_and_logdet_survive_training():
    data = tiny_bundle(size=8)
    model = glow(size=8)
    for _ in range(10):
        model.train_step(*data.train.first(32))
    x = model.preprocess(data.test.first(2)[0], noise=True)
    zs, logdet, _ = model.flow(x)
    assert torch.allclose(model.inverse_flow(zs), x, atol=1e-4)
    assert logdet[0].item() == pytest.approx(
        autograd_logdet(lambda v: flat_z(model, v), x[:1]).item(), rel=1e-4, abs=1e-2
    )


def test_reconstruction_of_8_bit_images_is_exact():
    model = glow(size=8)
    perturb(model, 0.05)
    x = torch.randint(0, 256, (4, 1, 8, 8)).float() / 255
    assert torch.equal(model.reconstruct(x), x)


def test_bits_per_dim_of_the_identity_flow_is_the_analytic_value():
    """K=0, L=1: z = squeeze(x + u) with a N(0, I) prior, so -log p = sum(z^2/2 + log(2 pi)/2) + D log n_bins."""
    model = glow(size=4, K=0, L=1, n_bits=5, logit_alpha=None)  # plain scaling: the analytic case
    x = torch.randint(0, 256, (2, 1, 4, 4)).float() / 255
    nll = model.nll(x, generator=torch.Generator().manual_seed(0))
    x_pre = model.preprocess(x, noise=True, generator=torch.Generator().manual_seed(0))
    expected = (0.5 * x_pre.pow(2) + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1) + 16 * math.log(32)
    assert torch.allclose(nll, expected, atol=1e-4)
    assert torch.allclose(model.bits_per_dim(nll), expected / (16 * math.log(2)))


def test_bits_per_dim_with_logit_preprocessing_counts_its_jacobian():
    """K=0, L=1 with the logit: z = squeeze(logit(a + (1 - 2a)(x + u + 0.5))), so -log p(x) adds
    -log |dz/dx| = -sum(log(1 - 2a) - log p - log(1 - p)) to the Gaussian term."""
    a = 0.01
    model = glow(size=4, K=0, L=1, logit_alpha=a)
    x = torch.randint(0, 256, (2, 1, 4, 4)).float() / 255
    nll = model.nll(x, generator=torch.Generator().manual_seed(0))
    p = a + (1 - 2 * a) * (model.preprocess(x, noise=True, generator=torch.Generator().manual_seed(0)) + 0.5)
    v = torch.log(p / (1 - p))
    log_jac = (math.log(1 - 2 * a) - torch.log(p) - torch.log(1 - p)).flatten(1).sum(1)
    gauss = (0.5 * v.pow(2) + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    assert torch.allclose(nll, gauss - log_jac + 16 * math.log(256), atol=1e-3)


def test_n_bits_reduces_the_data_to_2_to_the_n_bins():
    model = glow(size=4, n_bits=3)
    x = torch.arange(256).float().div(255).view(1, 1, 16, 16)[:, :, :4, :4]
    bins = torch.floor((model.preprocess(x, noise=False) + 0.5) * 8)
    assert bins.min() >= 0 and bins.max() <= 7


def test_training_lowers_bits_per_dim():
    data = tiny_bundle(size=8)
    model = glow(size=8, warmup_steps=1)
    first = model.train_step(*data.train.first(64))["bits_per_dim"]
    for _ in range(60):
        last = model.train_step(*data.train.first(64))["bits_per_dim"]
    assert last < first - 0.5


def test_learning_rate_warms_up_linearly_and_the_count_is_saved():
    model = glow(size=4, warmup_steps=10, lr=1e-3)
    x = torch.rand(4, 1, 4, 4)
    lr = lambda: model.stepper.optimizers["flow"].param_groups[0]["lr"]  # noqa: E731
    assert lr() == pytest.approx(1e-4)  # the first update's: lr / warmup_steps
    model.train_step(x, torch.zeros(4, dtype=torch.long))
    assert lr() == pytest.approx(2e-4)
    state = model.stepper.state_dict()
    assert state["lr_warmup"] == {"flow": {"taken": 1}}
    again = glow(size=4, warmup_steps=10, lr=1e-3)
    again.stepper.load_state_dict(state, updates_so_far=0)
    assert again.stepper.optimizers["flow"].param_groups[0]["lr"] == pytest.approx(2e-4)
    for _ in range(12):
        model.train_step(x, torch.zeros(4, dtype=torch.long))
    assert lr() == pytest.approx(1e-3)  # warmed up: the configured rate


def test_a_checkpoint_with_the_models_own_warmup_count_from_before_still_loads():
    """Glow once counted its warm-up in a buffer (``updates``); the Stepper owns it now. An older
    state dict still loads, and the warm-up continues from the run's step count."""
    old = glow(size=4, warmup_steps=10, lr=1e-3)
    state = old.state_dict() | {"updates": torch.tensor(3)}
    model = glow(size=4, warmup_steps=10, lr=1e-3)
    model.load_state_dict(state)  # strict: the retired key is the only extra one
    model.stepper.load_state_dict({"optimizers": old.stepper.state_dict()["optimizers"]}, updates_so_far=3)
    assert model.stepper.optimizers["flow"].param_groups[0]["lr"] == pytest.approx(4e-4)


def test_temperature_scales_the_spread_of_samples():
    model = glow(size=8)
    cold = model.inverse_flow([None, None], temperature=0.1, batch=64, generator=torch.Generator().manual_seed(0))
    warm = model.inverse_flow([None, None], temperature=1.0, batch=64, generator=torch.Generator().manual_seed(0))
    assert cold.std() < warm.std() / 3


def test_conditional_prior_draws_the_requested_class():
    data = tiny_bundle(size=8)  # label 0: square on the left, 1: on the right
    model = glow(size=8, conditional=True, num_classes=2, lr=3e-3, warmup_steps=1)
    for _ in range(150):
        model.train_step(*data.train.first(128))
    g = torch.Generator().manual_seed(0)
    left = model.sample(64, generator=g, temperature=0.5, labels=torch.zeros(64, dtype=torch.long))
    right = model.sample(64, generator=g, temperature=0.5, labels=torch.ones(64, dtype=torch.long))
    column_mass = lambda s: s.mean(dim=(0, 1, 2))  # noqa: E731  (W,)
    assert column_mass(left)[:4].sum() > column_mass(left)[4:].sum()
    assert column_mass(right)[4:].sum() > column_mass(right)[:4].sum()


def test_bad_options_are_refused_with_the_fix():
    with pytest.raises(ZooError, match="cannot be squeezed L=3"):
        glow(size=28, L=3)
    with pytest.raises(ZooError, match="needs labelled data"):
        glow(size=4, conditional=True)
    with pytest.raises(ZooError, match="affine or additive"):
        glow(coupling="spline")


def test_default_levels_are_the_papers_three_where_the_image_size_allows():
    levels = lambda size: len(Glow(DataInfo("x", 1, size, 0), K=1, hidden_channels=4).levels)  # noqa: E731
    assert levels(32) == 3  # 32 -> 16 -> 8 -> 4
    assert levels(48) == 3
    assert levels(28) == 2  # 28 -> 14 -> 7: a third squeeze does not fit


def test_conditional_run_writes_one_row_per_class():
    model = glow(size=8, conditional=True, num_classes=3)
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    grid = model.extra_grids(x, y, torch.Generator().manual_seed(0))["samples_by_class"]
    assert grid.shape == (3 * 8, 1, 8, 8)  # saved with 8 per row: rows are classes 0, 1, 2
    assert "samples_by_class" not in glow(size=8).extra_grids(x, y, torch.Generator().manual_seed(0))


def test_the_likelihood_is_labelled_a_one_sample_estimate_of_an_upper_bound():
    """With uniform dequantisation -log p(x + u) estimates, from one draw of u, an upper bound on
    the discrete -log P(x): never "exact" in a report, the evaluation or W&B."""
    from zoo.evaluation import EvalConfig, evaluate

    model = glow()
    assert model.likelihood_is_bound
    assert model.likelihood_kind == "one-sample estimate of an upper bound (uniform dequantisation)"
    data = tiny_bundle(n_test=8, size=4)
    results = evaluate(model, data.test, EvalConfig(n_test=8, batch_size=8), torch.device("cpu"))
    assert results["test/nll_is_bound"] == 1.0
