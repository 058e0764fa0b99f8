"""VAE: the ELBO's terms, the IWAE bound, likelihood choice, and that it learns real digits."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from tests.helpers import tiny_bundle
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.vae import VAE, gaussian_kl
from zoo.optim import Stepper


def small(info: DataInfo | None = None, **kw):
    torch.manual_seed(0)
    model = VAE(info or DataInfo("x", 1, 16, binary=True), latent_dim=4, width=4, hidden=16, **kw)
    Stepper(model)
    return model


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0, 1)).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 1), (64, 3)])
def test_shapes_and_capabilities(size, channels):
    model = small(DataInfo("x", channels, size, binary=channels == 1))
    x = torch.rand(3, channels, size, size)
    assert model.encode(x).shape == (3, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(2).shape == (2, channels, size, size)
    assert model.can_encode and model.has_likelihood and model.likelihood_is_bound


def test_likelihood_follows_the_data_unless_chosen():
    assert small(DataInfo("x", 1, 16, binary=True)).likelihood_name == "bernoulli"
    assert small(DataInfo("x", 3, 16, binary=False)).likelihood_name == "logistic"
    with pytest.raises(ZooError, match=r"model.likelihood must be"):
        small(likelihood="poisson")


def test_iwae_with_one_sample_is_the_negative_elbo_on_average():
    model = small()
    x = torch.bernoulli(torch.full((1, 1, 16, 16), 0.3))
    g = torch.Generator().manual_seed(0)
    iwae1 = torch.stack([model.nll(x.expand(200, -1, -1, -1), generator=g, k=1) for _ in range(5)]).mean()
    torch.manual_seed(1)
    log_px, kl = model.elbo_terms(x.expand(1000, -1, -1, -1))
    assert iwae1.item() == pytest.approx((kl - log_px).mean().item(), rel=0.02)


def test_more_importance_samples_give_a_tighter_bound():
    model = small()
    x = torch.bernoulli(torch.full((64, 1, 16, 16), 0.3), generator=torch.Generator().manual_seed(0))
    bounds = [model.nll(x, generator=torch.Generator().manual_seed(1), k=k).mean().item() for k in (1, 10, 100)]
    assert bounds[0] > bounds[1] > bounds[2]


def test_nll_is_reproducible_with_the_same_generator():
    model = small()
    x = torch.rand(8, 1, 16, 16)
    a = model.nll(x, generator=torch.Generator().manual_seed(3), k=5)
    b = model.nll(x, generator=torch.Generator().manual_seed(3), k=5)
    assert torch.equal(a, b)


def test_bits_per_dim_is_nats_over_dims_log2():
    model = small(DataInfo("x", 1, 28, binary=True))
    assert model.bits_per_dim(torch.tensor(784 * math.log(2))).item() == pytest.approx(1.0)


def test_training_raises_the_elbo():
    data = tiny_bundle(size=16)
    torch.manual_seed(0)
    model = VAE(data.info, latent_dim=4, width=8, hidden=64)
    Stepper(model)
    batch = data.train.first(64)
    first = model.train_step(*batch)["elbo"]
    for _ in range(40):
        last = model.train_step(*batch)["elbo"]
    assert last > first + 40


def test_learns_real_digits(real_data):
    from zoo.data import build_data

    data = build_data("mnist", name="mnist", root=str(real_data), download=False)
    torch.manual_seed(0)
    model = VAE(data.info, latent_dim=16, width=16, hidden=128)
    Stepper(model)
    before = model.nll(data.test.first(200)[0], generator=torch.Generator().manual_seed(0), k=10).mean()
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        model.train_step(*data.train.batch(torch.randint(len(data.train), (64,), generator=g)))
    after = model.nll(data.test.first(200)[0], generator=torch.Generator().manual_seed(0), k=10).mean()
    assert before > 500 and after < 200  # untrained ~543 nats; a few epochs of training reach ~100


def test_learns_real_doodles(real_doodles):
    """On real doodles (the embedded subset, or the official files in CI) a few hundred steps
    take the held-out bound from the untrained ~760 nats to under half of it."""
    data = real_doodles
    torch.manual_seed(0)
    model = VAE(data.info, latent_dim=16, width=16, hidden=128)
    Stepper(model)
    test = data.test.spread(200)[0]
    before = model.nll(test, generator=torch.Generator().manual_seed(0), k=10).mean()
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        model.train_step(*data.train.batch(torch.randint(len(data.train), (64,), generator=g)))
    after = model.nll(test, generator=torch.Generator().manual_seed(0), k=10).mean()
    assert after < 0.5 * before, (float(before), float(after))
