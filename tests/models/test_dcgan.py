"""DCGAN: the paper's architecture at 32 and 64 pixels, its losses, and that it learns."""

import pytest
import torch
from torch import nn

from tests.helpers import tiny_bundle
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.dcgan import DCGAN
from zoo.optim import Stepper


@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3), (16, 1)])
def test_generator_and_discriminator_shapes(size, channels):
    model = DCGAN(DataInfo("x", channels, size), latent_dim=8, width=4)
    images = model.generator(torch.randn(5, 8))
    assert images.shape == (5, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    assert model.discriminator(images).shape == (5,)
    samples = model.sample(3)
    assert samples.shape == (3, channels, size, size) and samples.min() >= 0 and samples.max() <= 1


def test_paper_architecture_details():
    model = DCGAN(DataInfo("x", 1, 32), width=8)
    d_layers, g_layers = list(model.discriminator.net), list(model.generator.net)
    assert isinstance(d_layers[0], nn.Conv2d) and not isinstance(d_layers[1], nn.BatchNorm2d)  # no BN on D's input
    assert all(m.negative_slope == 0.2 for m in model.discriminator.modules() if isinstance(m, nn.LeakyReLU))
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)  # no BN at G's output
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in model.modules())  # strided convs only
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.003


def test_adam_settings_come_from_the_config():
    model = DCGAN(DataInfo("x", 1, 32), width=4, lr=1e-3, betas=(0.3, 0.9))
    opts = model.configure_optimizers()
    assert set(opts) == {"generator", "discriminator"}
    for opt in opts.values():
        assert opt.defaults["lr"] == 1e-3 and opt.defaults["betas"] == (0.3, 0.9)


def test_image_size_that_is_not_a_power_of_two_is_refused_with_the_fix():
    with pytest.raises(ZooError, match=r"power of two.*got 28.*data.image_size=32"):
        DCGAN(DataInfo("mnist", 1, 28))


def test_train_step_updates_each_network_with_its_own_optimizer():
    torch.manual_seed(0)
    model = DCGAN(DataInfo("x", 1, 16), latent_dim=8, width=4)
    Stepper(model)
    g0 = [p.clone() for p in model.generator.parameters()]
    d0 = [p.clone() for p in model.discriminator.parameters()]
    out = model.train_step(torch.rand(8, 1, 16, 16), torch.zeros(8))
    assert set(out) == {"loss_d", "loss_g", "d_real", "d_fake"}
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters(), strict=True))
    assert all(p.requires_grad for p in model.discriminator.parameters())  # unfrozen after G's step


def test_losses_are_the_non_saturating_gan_losses():
    """With D fixed to output logit a on everything: L_D = softplus(-a) + softplus(a), L_G = softplus(-a)."""
    model = DCGAN(DataInfo("x", 1, 16), latent_dim=8, width=4)
    Stepper(model)
    for p in model.parameters():
        p.requires_grad_(False)
    a = 0.7
    model.discriminator.forward = lambda x: torch.full((len(x),), a, requires_grad=True)  # type: ignore[method-assign]
    model.optimize = lambda loss, name: None  # type: ignore[method-assign]
    out = model.train_step(torch.rand(4, 1, 16, 16), torch.zeros(4))
    softplus = torch.nn.functional.softplus
    assert out["loss_d"] == pytest.approx((softplus(torch.tensor(-a)) + softplus(torch.tensor(a))).item(), rel=1e-6)
    assert out["loss_g"] == pytest.approx(softplus(torch.tensor(-a)).item(), rel=1e-6)


def test_discriminator_learns_to_tell_data_from_fresh_generator_samples():
    torch.manual_seed(0)
    data = tiny_bundle(size=16)
    model = DCGAN(data.info, latent_dim=8, width=8)
    Stepper(model)
    first = model.train_step(*data.train.first(32))
    for _ in range(15):
        last = model.train_step(*data.train.first(32))
    assert last["d_real"] > first["d_real"] and last["loss_d"] < first["loss_d"]
