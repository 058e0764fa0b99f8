"""The shared vocabulary in ``zoo/nn``: each piece against its reference formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo.models.base import frozen
from zoo.nn.losses import discriminator_loss, gaussian_log_prob, nonsaturating_generator_loss
from zoo.nn.pixels import halvings, to_signed, to_unit


def test_gaussian_log_prob_is_torch_distributions_normal_summed_per_example():
    z, mean, log_std = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4), 0.3 * torch.randn(5, 3, 4, 4)
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(z).flatten(1).sum(1)
    assert torch.allclose(gaussian_log_prob(z, mean, log_std), expected, atol=1e-5)
    standard = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    assert torch.allclose(gaussian_log_prob(z), standard, atol=1e-5)


def test_the_logistic_gan_losses_are_binary_cross_entropy_on_logits():
    real, fake, other = torch.randn(8), torch.randn(8), torch.randn(8)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(8)) + bce(fake, torch.zeros(8)) + bce(other, torch.zeros(8))
    assert discriminator_loss(real, fake, other) == pytest.approx(float(expected), rel=1e-6)
    assert nonsaturating_generator_loss(fake) == pytest.approx(float(bce(fake, torch.ones(8))), rel=1e-6)


def test_pixel_ranges_convert_both_ways_and_clamp_on_the_way_back():
    x = torch.rand(4, 1, 8, 8)
    assert to_signed(x).min() >= -1 and to_signed(x).max() <= 1
    assert torch.allclose(to_unit(to_signed(x)), x)
    assert to_unit(torch.tensor([-1.5, 1.5])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("size", "floor", "count"), [(32, 4, 3), (64, 4, 4), (4, 4, 0), (28, 8, 2), (28, 4, 2), (7, 4, 0)]
)
def test_halvings_count_exact_halvings_above_the_floor(size, floor, count):
    assert halvings(size, floor) == count


def test_frozen_networks_take_no_gradient_inside_and_learn_again_after():
    a, b = nn.Linear(2, 2), nn.Linear(2, 1)
    b.bias.requires_grad_(False)  # already frozen by its owner: stays so
    with frozen(a, b):
        assert not any(p.requires_grad for p in (*a.parameters(), *b.parameters()))
    assert all(p.requires_grad for p in a.parameters()) and b.weight.requires_grad and not b.bias.requires_grad
