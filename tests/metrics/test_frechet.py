"""FID and KID through torchmetrics on given features: zero for a set against itself, and the
closed-form Fréchet distance for Gaussians with known means and covariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from zoo.metrics.frechet import frechet_distance, kernel_distance


def closed_form(mu1, s1, mu2, s2) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Dowson & Landau 1982)."""
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def gaussian(n, mean, cov, seed):
    g = np.random.default_rng(seed)
    return torch.from_numpy(g.multivariate_normal(mean, cov, size=n))


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(2000, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_equals_the_formula_on_the_sets_own_means_and_covariances():
    a = gaussian(3000, np.zeros(4), np.eye(4), 0)
    b = gaussian(3000, np.ones(4), np.diag([1.0, 2.0, 3.0, 4.0]), 1)
    empirical = closed_form(a.mean(0).numpy(), np.cov(a.T.numpy()), b.mean(0).numpy(), np.cov(b.T.numpy()))
    assert frechet_distance(a, b) == pytest.approx(empirical, rel=1e-6)


def test_fid_approaches_the_distance_between_the_true_gaussians():
    mu1, s1 = np.array([0.0, 0.0, 0.0]), np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.5]])
    mu2, s2 = np.array([1.0, -1.0, 0.5]), np.diag([0.5, 1.0, 2.0])
    truth = closed_form(mu1, s1, mu2, s2)
    estimate = frechet_distance(gaussian(200_000, mu1, s1, 2), gaussian(200_000, mu2, s2, 3))
    assert estimate == pytest.approx(truth, rel=0.02)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    a = gaussian(2000, np.zeros(6), np.eye(6), 0)
    same = gaussian(2000, np.zeros(6), np.eye(6), 1)
    shifted = [gaussian(2000, np.full(6, d), np.eye(6), 2) for d in (0.5, 1.0)]
    kid_same, _ = kernel_distance(a, same, subsets=20, subset_size=500)
    kids = [kernel_distance(a, s, subsets=20, subset_size=500)[0] for s in shifted]
    assert abs(kid_same) < 0.05 * kids[0]
    assert 0 < kids[0] < kids[1]


def test_kid_is_reproducible_with_a_seed():
    a, b = gaussian(600, np.zeros(3), np.eye(3), 0), gaussian(600, np.ones(3), np.eye(3), 1)
    assert kernel_distance(a, b, subsets=5, subset_size=100, seed=7) == kernel_distance(
        a, b, subsets=5, subset_size=100, seed=7
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_features_are_an_error_not_a_crash(bad):
    a, b = torch.randn(64, 8, dtype=torch.float64), torch.randn(64, 8, dtype=torch.float64)
    b[3, 2] = bad  # LAPACK would abort the whole process on this
    with pytest.raises(ValueError, match="NaN or infinite"):
        frechet_distance(a, b)
    with pytest.raises(ValueError, match="NaN or infinite"):
        kernel_distance(a, b, subsets=2, subset_size=16)
