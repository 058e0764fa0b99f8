"""Pixel ranges and image sizes. Data arrives in [0, 1]; tanh generators and most networks work in
[-1, 1]; every model converts with these two, and counts halvings of an image size with one helper."""

from __future__ import annotations

import torch


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped (a network's output may overshoot)."""
    return (x * 0.5 + 0.5).clamp(0, 1)


def halvings(size: int, floor: int) -> int:
    """How often ``size`` halves exactly while it stays above ``floor`` (32, 4 -> 3: 32 -> 16 -> 8 -> 4)."""
    n = 0
    while size > floor and size % 2 == 0:
        size, n = size // 2, n + 1
    return n
