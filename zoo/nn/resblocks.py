"""Residual blocks that change resolution, for encoders, generators and discriminators.

Pre-activation residual blocks (He et al. 2016) with the resampling on both paths, in the style
used by alpha-GAN's networks (Rosca et al. 2017, appendix): average pooling to go down,
nearest-neighbour upsampling to go up, a 1x1 convolution on the shortcut when the width changes.

To keep CPU training affordable every convolution runs at the lower of the two resolutions where
it can: a "down" block pools first; an "up" block convolves once before upsampling and once after.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResBlock(nn.Module):
    """x -> act -> conv3x3 -> act -> conv3x3 (+ shortcut), resampled by ``resample``.

    ``resample``: "down" (2x average pooling first), "up" (2x nearest-neighbour upsampling between
    the two convolutions) or None. ``norm``: batch norm before each activation (generators) or
    none (encoders, discriminators)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resample: str | None = None,
        activation: str = "relu",
        norm: bool = False,
    ):
        super().__init__()
        if resample not in (None, "up", "down"):
            raise ValueError(f"resample must be None, 'up' or 'down', got {resample!r}")
        self.resample = resample
        act = {"relu": nn.ReLU, "lrelu": lambda: nn.LeakyReLU(0.2)}[activation]
        self.pre1 = nn.Sequential(nn.BatchNorm2d(in_channels), act()) if norm else act()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.pre2 = nn.Sequential(nn.BatchNorm2d(out_channels), act()) if norm else act()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "down":
            x = F.avg_pool2d(x, 2)  # (B, C, H/2, W/2)
        h = self.conv1(self.pre1(x))
        if self.resample == "up":
            h = F.interpolate(h, scale_factor=2, mode="nearest")  # (B, C', 2H, 2W)
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv2(self.pre2(h)) + self.shortcut(x)
