"""Sliced Wasserstein distance (Karras et al. 2018): a Laplacian pyramid that reassembles the
image, exact 1-D Wasserstein distances, zero for identical sets, growing as a set drifts away."""

from __future__ import annotations

import pytest
import torch

from zoo.metrics.sliced_wasserstein import laplacian_pyramid, pyramid_up, random_patches, sliced_wasserstein, swd


def strokes(n: int, seed: int, vertical: bool) -> torch.Tensor:
    """(n, 1, 32, 32) images with one random horizontal or vertical bar each."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 32, 32)
    for img, a in zip(x, torch.randint(4, 26, (n,), generator=g).tolist(), strict=True):
        if vertical:
            img[:, 4:28, a : a + 2] = 1
        else:
            img[:, a : a + 2, 4:28] = 1
    return x


def test_laplacian_pyramid_levels_and_exact_reassembly():
    x = torch.rand(3, 2, 32, 32)
    levels = laplacian_pyramid(x, min_size=8)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    image = levels[-1]
    for band in reversed(levels[:-1]):
        image = pyramid_up(image) + band
    assert torch.allclose(image, x, atol=1e-5)


def test_random_patches_are_real_neighbourhoods():
    x = torch.arange(2 * 10 * 10, dtype=torch.float).view(2, 1, 10, 10)
    patches = random_patches(x, 5, 7, torch.Generator().manual_seed(0))
    assert patches.shape == (10, 1, 7, 7)
    for p in patches:  # consecutive pixels along rows, rows 10 apart, all inside one image
        assert torch.equal(p[0, :, 1:] - p[0, :, :-1], torch.ones(7, 6))
        assert torch.equal(p[0, 1:, :] - p[0, :-1, :], torch.full((6, 7), 10.0))


def test_sliced_distance_of_1d_sets_is_their_wasserstein_distance():
    a = torch.randn(1000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert sliced_wasserstein(a, a + 0.75, directions=4, repeats=2) == pytest.approx(0.75)


def test_swd_is_zero_for_identical_sets_and_grows_as_the_set_drifts():
    horizontal, vertical = strokes(300, 0, vertical=False), strokes(300, 1, vertical=True)
    assert swd(horizontal, horizontal.clone())["swd"] == 0.0
    drift = [swd(horizontal, (1 - t) * horizontal + t * vertical)["swd"] for t in (0.25, 0.5, 1.0)]
    assert 0 < drift[0] < drift[1] < drift[2]
    per_level = swd(horizontal, vertical)
    assert set(per_level) == {"swd_32", "swd_16", "swd"}
