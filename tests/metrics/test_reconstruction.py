"""Reconstruction scores on pairs with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.metrics.reconstruction import ReconstructionScores, psnr, ssim


def test_psnr_of_a_uniform_error_of_a_tenth_is_20_db():
    x = torch.full((2, 1, 16, 16), 0.5)
    scores = ReconstructionScores()
    scores.update(x, x + 0.1)
    result = scores.result()
    assert result["mse"] == pytest.approx(0.01)
    assert result["psnr"] == pytest.approx(20.0)


def test_exact_reconstruction_is_infinite_psnr_and_unit_ssim():
    x = torch.rand(3, 1, 16, 16)
    scores = ReconstructionScores()
    scores.update(x, x.clone())
    assert scores.result() == {"mse": 0.0, "psnr": math.inf, "ssim": pytest.approx(1.0)}
    assert psnr(0.0) == math.inf


def test_ssim_of_two_flat_images_is_the_luminance_term():
    a, b = 0.3, 0.7
    c1 = (0.01 * 1.0) ** 2  # K1 = 0.01, data range 1; flat images: contrast and structure terms are 1
    expected = (2 * a * b + c1) / (a**2 + b**2 + c1)
    value = ssim(torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b))
    assert value.item() == pytest.approx(expected, rel=1e-4)


def test_ssim_falls_as_noise_grows():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 32, 32, generator=g)
    noisy = [(x + s * torch.randn(x.shape, generator=g)).clamp(0, 1) for s in (0.05, 0.2)]
    assert ssim(x, noisy[0]).mean() > ssim(x, noisy[1]).mean()
