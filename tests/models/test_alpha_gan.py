"""alpha-GAN: four networks of the right shapes, each loss term pushing the right way and reaching
only the networks it should, separate optimizers stepped in the paper's ratio, and learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.helpers import tiny_bundle
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.alpha_gan import AlphaGAN, fool_loss
from zoo.nn.losses import discriminator_loss
from zoo.optim import Stepper


def alpha_gan(size=16, channels=1, **kw) -> AlphaGAN:
    torch.manual_seed(0)
    model = AlphaGAN(DataInfo("x", channels, size), **{"latent_dim": 8, "width": 4, "code_hidden": 16, **kw})
    Stepper(model)
    return model


@pytest.mark.parametrize(("size", "channels"), [(16, 1), (32, 1), (64, 3)])
def test_the_four_networks_shapes(size, channels):
    model = alpha_gan(size, channels)
    x = torch.rand(5, channels, size, size) * 2 - 1
    z = model.encoder(x)
    assert z.shape == (5, 8)
    images = model.generator(z)
    assert images.shape == x.shape and images.min() >= -1 and images.max() <= 1  # tanh output
    assert model.discriminator(images).shape == (5,)
    assert model.code_discriminator(z).shape == (5,)
    assert model.reconstruct(x * 0.5 + 0.5).shape == x.shape
    samples = model.sample(3)
    assert samples.shape == (3, channels, size, size) and samples.min() >= 0 and samples.max() <= 1


def test_code_discriminator_is_a_three_layer_leaky_mlp_without_batch_norm():
    net = alpha_gan().code_discriminator
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 3
    assert any(isinstance(m, nn.LeakyReLU) for m in net.modules())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def test_resolution_blocks_pool_on_the_way_down_and_upsample_on_the_way_up():
    model = alpha_gan(size=32)
    assert [b.resample for b in model.encoder.blocks] == ["down", "down"]  # 16 -> 8 -> 4 after the stem
    assert [b.resample for b in model.generator.blocks] == ["up", "up", "up"]  # 4 -> 8 -> 16 -> 32
    assert all(
        isinstance(m, nn.LeakyReLU) for m in model.discriminator.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))
    )


@pytest.mark.parametrize("form", ["ratio", "nonsaturating"])
def test_fooling_terms_push_the_discriminator_output_towards_real(form):
    logits = torch.randn(6, requires_grad=True)
    fool_loss(logits, form).backward()
    assert (logits.grad < 0).all()  # descending raises D(x_rec), D(x_gen), C(z_hat)


def test_discriminator_loss_pushes_real_up_and_every_fake_kind_down():
    real, rec, gen = (torch.randn(6, requires_grad=True) for _ in range(3))
    discriminator_loss(real, rec, gen).backward()
    assert (real.grad < 0).all() and (rec.grad > 0).all() and (gen.grad > 0).all()


class PriorIsNearZero(nn.Module):
    """A fixed code discriminator: the closer a code to the origin, the more 'prior' it looks."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return -z.pow(2).sum(1)


def test_the_encoders_code_loss_moves_codes_towards_the_prior():
    model = alpha_gan(recon_weight=0.0)
    model.code_discriminator = PriorIsNearZero()
    model.stepper.optimizers["encoder"] = torch.optim.SGD(model.encoder.parameters(), lr=1e-2)
    x = torch.rand(16, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        model.encoder.head.bias.fill_(3.0)  # codes start far from the prior's mass
    before = model.encoder(x).norm(dim=1).mean()
    for _ in range(5):
        model.optimize_jointly({"encoder": model.autoencoder_losses(x)["encoder"]})
    assert model.encoder(x).norm(dim=1).mean() < before - 0.1


def test_each_loss_reaches_only_its_own_network():
    """With no reconstruction term and a constant code discriminator, the encoder has nothing to
    learn from: if the image adversarial term leaked into it, it would move. D and C never move
    in the autoencoder update."""
    model = alpha_gan(recon_weight=0.0)
    nn.init.zeros_(model.code_discriminator.net[-1].weight)
    frozen = {
        name: [p.clone() for p in getattr(model, name).parameters()]
        for name in ("encoder", "discriminator", "code_discriminator")
    }
    g0 = [p.clone() for p in model.generator.parameters()]
    out = model.autoencoder_losses(torch.rand(8, 1, 16, 16) * 2 - 1)
    model.optimize_jointly({"encoder": out["encoder"], "generator": out["generator"]})
    for name, params in frozen.items():
        assert all(torch.equal(a, b) for a, b in zip(params, getattr(model, name).parameters(), strict=True)), name
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters(), strict=True))


class CountingAdam(torch.optim.Adam):
    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.calls = 0

    def step(self, closure=None):
        self.calls += 1
        return super().step(closure)


def test_autoencoder_updates_ae_steps_times_per_discriminator_update():
    model = alpha_gan(ae_steps=3)
    model.stepper.optimizers = {
        name: CountingAdam(getattr(model, name).parameters(), lr=1e-4) for name in model.stepper.optimizers
    }
    out = model.train_step(torch.rand(8, 1, 16, 16), torch.zeros(8, dtype=torch.long))
    assert {name: opt.calls for name, opt in model.stepper.optimizers.items()} == {
        "encoder": 3,
        "generator": 3,
        "discriminator": 1,
        "code_discriminator": 1,
    }
    expected = {"loss_encoder", "loss_generator", "loss_discriminator", "loss_code_discriminator", "code_disc_accuracy"}
    assert expected <= set(out)
    assert 0 <= out["code_disc_accuracy"] <= 1


def test_four_separate_adam_optimizers_with_the_configured_settings():
    model = alpha_gan(lr=1e-3, betas=(0.3, 0.9))
    assert set(model.stepper.optimizers) == {"encoder", "generator", "discriminator", "code_discriminator"}
    owned = {name: {id(p) for p in getattr(model, name).parameters()} for name in model.stepper.optimizers}
    for name, opt in model.stepper.optimizers.items():
        assert opt.defaults["lr"] == 1e-3 and opt.defaults["betas"] == (0.3, 0.9)
        assert {id(p) for g in opt.param_groups for p in g["params"]} == owned[name]


def test_reconstructions_of_a_fixed_batch_improve_over_a_few_steps():
    data = tiny_bundle(size=16)
    model = alpha_gan(width=8, lr=1e-3)
    x, _ = data.test.first(32)
    error = lambda: (model.reconstruct(x) - x).pow(2).mean().item()  # noqa: E731
    model.eval()
    before = error()
    model.train()
    for _ in range(40):
        model.train_step(*data.train.first(64))
    model.eval()
    assert error() < 0.6 * before


def test_bad_options_are_refused_with_the_fix():
    with pytest.raises(ZooError, match=r"power of two.*data.image_size=32"):
        alpha_gan(size=28)
    with pytest.raises(ZooError, match="ratio or nonsaturating"):
        alpha_gan(adversarial="wasserstein")
    with pytest.raises(ZooError, match="ae_steps"):
        alpha_gan(ae_steps=0)


def test_generator_starts_at_the_data_mean_once_and_not_again_after_a_resume():
    model = alpha_gan()
    x = torch.zeros(6, 1, 16, 16)
    x[:, :, 4:12, 7] = 1.0  # a stroke: 1/32 of the pixels are ink
    model.train_step(x, torch.zeros(6, dtype=torch.long))
    bias = model.generator.out[2].bias.detach().clone()
    mean_in_tanh_space = (x * 2 - 1).mean()
    assert torch.allclose(bias, torch.atanh(mean_in_tanh_space), atol=2e-3)  # one Adam step moves it by ~lr

    resumed = alpha_gan()
    resumed.load_state_dict(model.state_dict())
    resumed.train_step(torch.ones(6, 1, 16, 16), torch.zeros(6, dtype=torch.long))  # all ink: would give +inf
    assert torch.allclose(resumed.generator.out[2].bias, bias, atol=2e-3)
