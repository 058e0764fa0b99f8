"""DDPM's maths against closed forms: the forward process, the posterior, the variational bound
(exactly known when the network predicts the true noise), the Monte-Carlo estimate of its middle
terms, and DDIM inversion, whose round-trip error is bounded and shrinks with the steps."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from zoo.data.base import DataInfo
from zoo.models.ddpm import DDPM

INFO = DataInfo(name="toy", channels=1, image_size=4)


def toy(**options) -> DDPM:
    return DDPM(INFO, widths=(4,), attention_resolutions=(), **options).eval()


def test_the_forward_process_is_the_papers_closed_form():
    model = toy(schedule="linear")
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)  # Ho et al., section 4
    abar = torch.cumprod(1 - betas, 0)
    x0, eps = torch.rand(3, 1, 4, 4).double() * 2 - 1, torch.randn(3, 1, 4, 4).double()
    t = torch.tensor([0, 499, 999])
    expected = abar[t].sqrt().view(-1, 1, 1, 1) * x0 + (1 - abar[t]).sqrt().view(-1, 1, 1, 1) * eps
    assert torch.allclose(model.diffuse(x0, eps, t), expected, atol=1e-6)


def test_the_cosine_schedule_is_nichol_and_dhariwals():
    model = toy(schedule="cosine")
    s, t = 0.008, torch.arange(1, 1001, dtype=torch.float64)
    f = lambda u: torch.cos((u / 1000 + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    abar = f(t) / f(torch.tensor(0.0, dtype=torch.float64))
    # diffusers clips beta at 0.999, which only changes the last few steps
    assert torch.allclose(model.abar[:990], abar[:990], rtol=1e-4)


def test_the_posterior_is_the_gaussian_conditional_of_the_joint():
    """q(x_{t-1} | x_t, x_0) from x_{t-1} ~ N(sqrt(abar_{t-1}) x_0, 1 - abar_{t-1}) and
    x_t | x_{t-1} ~ N(sqrt(alpha_t) x_{t-1}, beta_t), by completing the square."""
    model = toy()
    x0, x_t = torch.randn(5, 1, 4, 4).double(), torch.randn(5, 1, 4, 4).double()
    t = torch.tensor([1, 10, 100, 500, 999])
    beta, abar_prev = model.beta[t].view(-1, 1, 1, 1), model.abar[t - 1].view(-1, 1, 1, 1)
    precision = 1 / (1 - abar_prev) + (1 - beta) / beta
    mean = (abar_prev.sqrt() * x0 / (1 - abar_prev) + (1 - beta).sqrt() * x_t / beta) / precision
    assert torch.allclose(model.posterior_mean(x0, x_t, t), mean, atol=1e-9)
    assert torch.allclose(model.posterior_var[t], 1 / precision.flatten(), rtol=1e-9)


def oracle(model: DDPM, x: torch.Tensor):
    """A network that knows the image: it returns the noise that made x_t from it exactly."""
    x0 = x * 2 - 1

    def true_noise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = model.abar.to(torch.float32)[t].view(-1, 1, 1, 1)
        return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()

    return true_noise


def test_with_the_true_noise_the_bound_is_its_prior_and_decoder_terms(monkeypatch):
    """Every middle KL vanishes (mu_theta = mu~), leaving two closed forms: KL(N(sqrt(abar_T) x_0,
    1 - abar_T) || N(0, 1)) and the discretised N(x_0, beta_1)'s mass on x_0's own bin."""
    model = toy(nll_timesteps=999)
    x = torch.tensor([0.0, 1.0, 128 / 255, 3 / 255]).repeat(4).view(1, 1, 4, 4)
    monkeypatch.setattr(model, "denoise", oracle(model, x))
    nll = model.nll(x, generator=torch.Generator().manual_seed(0))

    x0 = (x * 2 - 1).double().flatten()
    abar_T, sigma = model.abar[-1], model.beta[0].sqrt()
    prior = 0.5 * (abar_T * x0**2 + (1 - abar_T) - 1 - torch.log(1 - abar_T))
    phi = lambda u: 0.5 * (1 + math.erf(u / math.sqrt(2)))  # noqa: E731
    edge, inner = phi(1 / 255 / sigma), phi(1 / 255 / sigma) - phi(-1 / 255 / sigma)
    mass = torch.tensor([edge if abs(v) > 0.999 else inner for v in x0.tolist()], dtype=torch.float64)
    expected = (prior - torch.log(mass)).sum()
    assert nll.item() == pytest.approx(expected.item(), rel=1e-4)


def gaussian_denoiser(model: DDPM, s: float):
    """The Bayes-optimal noise estimate for data x_0 ~ N(0, s^2 I): E[eps | x_t]."""

    def predict(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = model.abar.to(x_t.dtype)[t].view(-1, 1, 1, 1)
        return (1 - abar).sqrt() * x_t / (abar * s * s + 1 - abar)

    return predict


def test_the_sampled_timesteps_estimate_the_full_sum_without_bias(monkeypatch):
    full, sampled = toy(nll_timesteps=999), toy(nll_timesteps=8)
    x = torch.rand(1, 1, 4, 4)
    for model in (full, sampled):
        monkeypatch.setattr(model, "denoise", gaussian_denoiser(model, 0.5))
    exact = torch.stack([full.nll(x, torch.Generator().manual_seed(i)) for i in range(3)]).mean()
    draws = torch.stack([sampled.nll(x, torch.Generator().manual_seed(i)) for i in range(400)]).flatten()
    standard_error = draws.std() / math.sqrt(len(draws))
    assert abs(draws.mean() - exact) < 4 * standard_error + 0.01 * exact.abs()
    assert draws.std() > 0, "a Monte-Carlo estimate varies with its draws"
    assert "Monte-Carlo estimate of an upper bound" in sampled.likelihood_kind
    assert "every timestep" in full.likelihood_kind


def test_the_last_term_is_evaluated_exactly_and_one_timestep_drawn_in_each_stratum(monkeypatch):
    """The strata split the middle timesteps 1..T-2 into ``nll_timesteps`` contiguous ranges, each
    timestep in exactly one, widening geometrically (the large early terms get narrow strata); every
    estimate evaluates the last term (t = T, about 40% of a trained network's bound) at weight 1."""
    model = toy(nll_timesteps=8)
    strata = model.strata()
    assert len(strata) == 8 and strata[0][0] == 1 and strata[-1][1] == model.T - 1
    assert all(b == a for (_, b), (a, _) in itertools.pairwise(strata))
    widths = [b - a for a, b in strata]
    assert widths == sorted(widths) and widths[0] == 1 and widths[-1] > 400

    calls = []

    def record(x0, t, eps):
        calls.append(t.clone())
        return torch.ones(len(x0), dtype=torch.float64)  # every middle term 1 nat: the bound counts weights

    monkeypatch.setattr(model, "middle_term", record)
    monkeypatch.setattr(model, "decoder_term", lambda x0, eps: torch.zeros(len(x0), dtype=torch.float64))
    monkeypatch.setattr(model, "prior_term", lambda x0: torch.zeros(len(x0), dtype=torch.float64))
    nll = model.nll(torch.rand(5, 1, 4, 4), torch.Generator().manual_seed(0))
    assert len(calls) == 9 and (calls[0] == model.T - 1).all()
    for (a, b), t in zip(strata, calls[1:], strict=True):
        assert ((a <= t) & (t < b)).all()
    assert torch.allclose(nll, torch.full((5,), float(model.T - 1)))  # 1 + the strata's widths: all T - 1 terms


def test_ddim_inversion_round_trips_closer_as_the_steps_grow(monkeypatch):
    model = toy()
    monkeypatch.setattr(model, "denoise", gaussian_denoiser(model, 0.5))
    x = (torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 0.25 + 0.5).clamp(0, 1)
    errors = {}
    for steps in (10, 50, 200):
        z = model.encode(x, steps=steps)
        errors[steps] = (model.decode(z, steps=steps) - x).abs().max().item()
        assert z.std() == pytest.approx(1.0, abs=0.25), "the code of an image looks like the prior's noise"
    assert errors[200] < errors[50] < errors[10]
    assert errors[200] < 0.02


def test_encoding_and_decoding_walk_the_same_timesteps_both_ways_and_clip_nothing():
    """The round trip's two halves visit one subsequence in opposite orders, stopping short of t = T
    (the cosine schedule's abar_T is nearly 0: inverting that step amplified a trained network's
    error, round-trip MSE 0.078 -> 0.009 on quickdraw at 25 steps), and no x_0 estimate is clipped,
    which the other half could not undo; sampling still starts at t = T and clips."""
    model = toy()
    for steps in (4, 25):
        model.ddim_decode.set_timesteps(steps)
        model.ddim_inverse.set_timesteps(steps)
        model.ddim.set_timesteps(steps)
        assert model.ddim_inverse.timesteps.tolist() == model.ddim_decode.timesteps.flip(0).tolist()
        assert model.ddim_decode.timesteps[0] < model.T - 1 == model.ddim.timesteps[0]
    assert not model.ddim_decode.config.clip_sample and not model.ddim_inverse.config.clip_sample
    assert model.ddim.config.clip_sample


def test_a_seed_fixes_the_samples_and_eta_adds_noise():
    model = toy(eta=0.0)
    one = model.sample(3, torch.Generator().manual_seed(1))
    assert torch.equal(one, model.sample(3, torch.Generator().manual_seed(1)))
    assert not torch.equal(one, model.sample(3, torch.Generator().manual_seed(2)))
    noisy = toy(eta=1.0)
    noisy.load_state_dict(model.state_dict())
    assert not torch.equal(one, noisy.sample(3, torch.Generator().manual_seed(1)))
    assert model.sample_evaluations() == model.sample_steps and model.sample_evaluations(steps=4) == 4
