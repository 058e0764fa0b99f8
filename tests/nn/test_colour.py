"""CIELAB for colourisers: RGB -> (L, ab) -> RGB round trips, the grey image is the lightness, and
the conditioning network gives one map per flow level."""

from __future__ import annotations

import torch

from zoo.nn.colour import (
    ConditionNet,
    as_grey,
    chroma,
    grey_rgb,
    lightness,
    subsample_chroma,
    to_rgb,
    upsample_chroma,
)


def test_rgb_to_lab_and_back_round_trips_to_1e_4():
    x = torch.rand(4, 3, 8, 8)
    assert (to_rgb(lightness(x), chroma(x)) - x).abs().max() < 1e-4


def test_lab_ranges_and_the_grey_image():
    x = torch.rand(4, 3, 8, 8)
    grey, ab = lightness(x), chroma(x)
    assert grey.shape == (4, 1, 8, 8) and grey.min() >= 0 and grey.max() <= 1
    assert ab.shape == (4, 2, 8, 8) and ab.abs().max() < 1
    flat = grey_rgb(grey)  # ab = 0: R = G = B, and its lightness is the grey image
    assert (flat.max(1).values - flat.min(1).values).max() < 1e-3
    assert (lightness(flat) - grey).abs().max() < 1e-4
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert lightness(white).min() > 0.999 and lightness(black).max() < 1e-4 and chroma(white).abs().max() < 1e-3


def test_a_grey_photo_and_its_rgb_copy_give_the_same_grey_image():
    v = torch.rand(2, 1, 8, 8)
    assert torch.allclose(as_grey(v), as_grey(v.expand(-1, 3, -1, -1)))


def test_the_conditioning_network_gives_a_feature_map_per_level():
    net = ConditionNet(width=4, levels=3)
    features = net(torch.rand(2, 1, 32, 32))
    assert [f.shape for f in features] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]
    assert net.channels == [4, 8, 16]


def test_skipped_halvings_give_no_map_so_the_maps_match_subsampled_chroma():
    net = ConditionNet(width=4, levels=2, context=True, skip=1)  # for ab at half of L's resolution
    features = net(torch.rand(2, 1, 32, 32))
    assert [f.shape for f in features] == [(2, 8, 8, 8), (2, 16, 4, 4)]
    assert net.channels == [8, 16]
    sum(f.sum() for f in features).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)  # no network left unused


def test_subsampled_chroma_is_the_block_mean_and_upsampling_restores_the_size():
    ab = torch.arange(16.0).view(1, 1, 4, 4).expand(1, 2, 4, 4)
    small = subsample_chroma(ab, 2)
    assert small[0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert upsample_chroma(small, 4).shape == (1, 2, 4, 4) and subsample_chroma(ab, 1) is ab
    flat = torch.full((1, 2, 2, 2), 0.3)
    assert torch.allclose(upsample_chroma(flat, 8), torch.full((1, 2, 8, 8), 0.3))  # a flat colour stays flat


def test_with_context_every_level_hears_the_whole_image():
    """A change in one corner of a 64x64 grey image reaches the finest map's far corner only through
    the top-down path; without it that corner is outside the receptive field."""
    torch.manual_seed(0)
    grey = torch.rand(1, 1, 64, 64)
    other = grey.clone()
    other[..., :8, :8] = 1 - other[..., :8, :8]
    for context, hears in ((False, False), (True, True)):
        net = ConditionNet(width=4, levels=3, context=context)
        a, b = net(grey), net(other)
        assert [f.shape for f in a] == [(1, 4, 32, 32), (1, 8, 16, 16), (1, 16, 8, 8)]
        far_corner = (a[0][..., -4:, -4:] - b[0][..., -4:, -4:]).abs().max()
        assert bool(far_corner > 1e-6) is hears
