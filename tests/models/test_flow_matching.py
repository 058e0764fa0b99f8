"""Flow matching against a case with a known answer: for data x_0 ~ N(m, s^2 I) the straight path's
marginal velocity is linear in x and the densities along it are Gaussian, so the likelihood by the
instantaneous change of variables, the encoder (the flow map to t = 1) and the decoder can each be
checked against a formula."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.data.base import DataInfo
from zoo.models.flow_matching import FlowMatching

INFO = DataInfo(name="toy", channels=1, image_size=2)
M, S = 0.3, 0.4  # data mean and standard deviation, per dimension


def toy(**options) -> FlowMatching:
    return FlowMatching(INFO, widths=(4,), attention_resolutions=(), **options).eval()


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """E[eps - x_0 | x_t = x] for x_0 ~ N(M, S^2): x_t ~ N((1 - t) M, sigma_t^2) with
    sigma_t^2 = (1 - t)^2 S^2 + t^2, and v = d mean/dt + (d sigma_t/dt / sigma_t) (x - mean)."""
    t = t.view(-1, 1, 1, 1).to(x.dtype)
    var = (1 - t) ** 2 * S**2 + t**2
    return -M + (t - (1 - t) * S**2) / var * (x - (1 - t) * M)


def gaussian_log_density(x: torch.Tensor) -> torch.Tensor:
    return (-0.5 * ((x - M) / S) ** 2 - math.log(S) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)


def test_the_likelihood_is_the_analytic_density_on_the_gaussian_path(monkeypatch):
    model = toy(trace="exact", nll_tolerance=1e-6)
    monkeypatch.setattr(model, "velocity", gaussian_velocity)
    x0 = M + S * torch.randn(6, 1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(model.log_density(x0), gaussian_log_density(x0), atol=1e-4)


def test_hutchinsons_estimate_averages_to_the_exact_divergence(monkeypatch):
    exact, estimate = toy(trace="exact", nll_tolerance=1e-4), toy(trace="hutchinson", nll_tolerance=1e-4)
    for model in (exact, estimate):
        monkeypatch.setattr(model, "velocity", gaussian_velocity)
    x0 = torch.full((1, 1, 2, 2), M + 0.1, dtype=torch.float64)
    draws = torch.cat([estimate.log_density(x0, torch.Generator().manual_seed(i)) for i in range(200)])
    assert draws.std() > 0
    assert abs(draws.mean() - exact.log_density(x0)[0]) < 4 * draws.std() / math.sqrt(len(draws))
    assert "Hutchinson estimate" in estimate.likelihood_kind and "Hutchinson" not in exact.likelihood_kind


def test_nll_counts_the_same_discretisation_terms_as_glow(monkeypatch):
    """-log P(k) <= -log p(x) - D log 2 + D log 256 for x = 2 (k + u) / 256 - 1."""
    model = toy(trace="exact", nll_tolerance=1e-6)
    monkeypatch.setattr(model, "velocity", gaussian_velocity)
    x = torch.tensor([0.0, 1.0, 100 / 255, 200 / 255]).view(1, 1, 2, 2)
    nll = model.nll(x, torch.Generator().manual_seed(3))
    x_signed = model.dequantise(x, torch.Generator().manual_seed(3)).double()
    assert x_signed.min() >= -1 and x_signed.max() < 1
    assert ((x_signed + 1) / 2 * 256).floor().equal((x.double() * 255).round()), (
        "dequantised within each pixel's own bin"
    )
    expected = -gaussian_log_density(x_signed) + 4 * math.log(128)
    assert nll.item() == pytest.approx(expected.item(), abs=1e-3)


def test_encoding_is_the_flow_map_and_decoding_inverts_it(monkeypatch):
    """For the Gaussian path the map from t = 0 to t = 1 is x -> (x - M) / S."""
    model = toy(solver="heun", sample_steps=128)
    monkeypatch.setattr(model, "velocity", gaussian_velocity)
    x = torch.rand(5, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    z = model.encode(x)
    assert torch.allclose(z, (x * 2 - 1 - M) / S, atol=1e-3)
    errors = [(model.decode(model.encode(x, steps=k), steps=k) - x).abs().max().item() for k in (2, 8, 32)]
    assert errors[2] < errors[1] < errors[0] and errors[2] < 1e-3


def test_a_seed_fixes_the_samples_and_each_solver_step_costs_its_evaluations():
    model = toy()
    one = model.sample(3, torch.Generator().manual_seed(1))
    assert torch.equal(one, model.sample(3, torch.Generator().manual_seed(1)))
    assert not torch.equal(one, model.sample(3, torch.Generator().manual_seed(2)))
    assert toy(solver="heun", sample_steps=12).sample_evaluations() == 24
    assert toy(solver="euler", sample_steps=12).sample_evaluations() == 12
    assert toy(solver="heun", sample_steps=12).sample_evaluations(steps=5) == 10
