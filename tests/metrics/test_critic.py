"""The critic's negative Wasserstein distance: a WGAN-GP critic trained on one split and read on
another recovers W1 = d for two unit Gaussians d apart. The gradient penalty lets the critic's
slope settle slightly above 1 (at 1 + d / (2 lambda) for this pair), hence the tolerance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.metrics.critic import gradient_penalty, image_critic, negative_wasserstein


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))


@pytest.mark.parametrize("d", [1.0, 2.0])
def test_estimate_recovers_the_distance_between_two_gaussians(d):
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(4000, 1, generator=g), torch.randn(4000, 1, generator=g) + d
    estimate = negative_wasserstein(
        mlp(), real[:2000], fake[:2000], real[2000:], fake[2000:], steps=400, batch_size=256, lr=1e-3
    )
    assert estimate == pytest.approx(-d, rel=0.15)


def test_gradient_penalty_is_zero_for_a_unit_slope_function():
    critic = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0]]))  # |grad| = 1 everywhere
    assert gradient_penalty(critic, torch.randn(8, 3), torch.randn(8, 3)).item() == pytest.approx(0.0, abs=1e-12)


def test_image_critic_maps_images_to_one_number():
    assert image_critic(1, 32)(torch.rand(5, 1, 32, 32)).shape == (5, 1)
