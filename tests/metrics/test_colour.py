"""The colourisation measures on constructed cases whose answers are known by hand."""

from __future__ import annotations

import pytest
import torch

from zoo.metrics.colour import best_of_n_rmse, colourfulness, rmse_per_sample, sample_variance


def test_identical_samples_have_zero_variance_and_best_of_8_equals_best_of_1():
    truth = torch.rand(3, 2, 4, 4)
    one = torch.rand(3, 1, 2, 4, 4)
    samples = one.expand(-1, 8, -1, -1, -1)
    assert torch.equal(sample_variance(samples), torch.zeros(3))
    assert torch.allclose(best_of_n_rmse(samples, truth), rmse_per_sample(one, truth)[:, 0])


def test_best_of_n_picks_the_closest_sample():
    truth = torch.zeros(1, 2, 2, 2)
    offsets = torch.tensor([0.5, -0.1, 0.3])  # constant errors: RMSE = |offset|
    samples = truth[:, None] + offsets.view(1, 3, 1, 1, 1)
    assert rmse_per_sample(samples, truth)[0].tolist() == pytest.approx([0.5, 0.1, 0.3])
    assert best_of_n_rmse(samples, truth).item() == pytest.approx(0.1)
    assert best_of_n_rmse(samples[:, :1], truth).item() == pytest.approx(0.5)  # best of 1: the first


def test_variance_of_two_colourings_a_apart_is_a_squared_over_4():
    samples = torch.stack([torch.zeros(2, 3, 3), torch.full((2, 3, 3), 0.6)])[None]  # (1, 2, C, H, W)
    assert sample_variance(samples).item() == pytest.approx(0.09)


def test_colourfulness_of_grey_is_zero_and_of_a_known_image_matches_the_formula():
    grey = torch.rand(1, 1, 5, 5).expand(-1, 3, -1, -1)
    assert colourfulness(grey).item() == pytest.approx(0.0, abs=1e-4)
    # half pure red, half pure blue (0-255): rg = 255 | 0, yb = 127.5 | -255
    image = torch.zeros(1, 3, 2, 2)
    image[0, 0, 0] = 1.0
    image[0, 2, 1] = 1.0
    sigma = (127.5**2 + 191.25**2) ** 0.5  # std of {255, 0}, std of {127.5, -255}
    mu = (127.5**2 + 63.75**2) ** 0.5  # means 127.5 and -63.75
    assert colourfulness(image).item() == pytest.approx(sigma + 0.3 * mu, rel=1e-5)
    assert colourfulness(image * 0.5 + 0.25).item() < colourfulness(image).item()  # washed out: less colourful
