"""Style-based building blocks (StyleGAN, Karras et al. 2019; used by StyleALAE, Pidhorskyi et al. 2020).

- Equalised learning rate (Karras et al. 2018, section 4.1): weights are drawn from N(0, 1) and
  scaled at run time by He's constant sqrt(2 / fan_in), so that Adam's per-parameter step sizes
  mean the same for every layer; ``lr_mul`` slows a whole network down (the mapping network).
- ``AdaIN``: instance-normalise each channel, then scale and shift it by an affine map of the
  style w: AdaIN(x, w) = y_s(w) * (x - mu(x)) / sigma(x) + y_b(w).
- ``NoiseInput``: per-pixel Gaussian noise with a learned per-channel strength (stochastic detail).
- ``GeneratorBlock``: [upsample -> conv] -> noise -> act -> AdaIN -> conv -> noise -> act -> AdaIN,
  two styles per block. ``EncoderBlock`` is its mirror for the StyleALAE encoder: after each
  convolution it records the instance-norm statistics (mu, sigma) it removes and maps them to a
  contribution to w, so that w = sum over layers of C_i([mu_i, sigma_i]).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-8


class EqualizedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0, gain=2**0.5):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
        self.scale = gain / math.sqrt(in_features) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualizedConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain=2**0.5):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    """x / sqrt(mean(x^2)) over features: the mapping network's input normalisation."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + EPS)


def instance_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation, each (B, C)."""
    var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False)
    return mean, (var + EPS).sqrt()


def instance_norm(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean[:, :, None, None]) / std[:, :, None, None]


class MLP(nn.Module):
    """``layers`` equalised dense layers with LeakyReLU between them (no activation after the last)."""

    def __init__(self, in_features: int, hidden: int, out_features: int, layers: int, lr_mul: float = 1.0):
        super().__init__()
        sizes = [in_features] + [hidden] * (layers - 1) + [out_features]
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_mul=lr_mul) for a, b in itertools.pairwise(sizes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.leaky_relu(x, 0.2)
        return x


class AdaIN(nn.Module):
    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, 2 * channels, gain=1.0)
        with torch.no_grad():  # y_s starts at 1, y_b at 0
            self.affine.bias[:channels].fill_(1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y_s, y_b = self.affine(w).chunk(2, dim=1)  # (B, C) each
        return y_s[:, :, None, None] * instance_norm(x, *instance_stats(x)) + y_b[:, :, None, None]


class NoiseInput(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, shared: bool = False) -> torch.Tensor:
        """A noise map per image (from ``generator`` when given), as StyleGAN draws it for training
        and sampling; ``shared``: one map for the whole batch, so that an image never depends on
        its neighbours (reproducible reconstructions, style-mixing grids whose cells differ only
        by style)."""
        b, _, h, w = x.shape
        noise = torch.randn(1 if shared else b, 1, h, w, device=x.device, generator=generator)
        return x + self.strength * noise.to(x.dtype)


class GeneratorBlock(nn.Module):
    """One resolution of the style generator; the first block starts from a learned 4x4 constant."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, first: bool):
        super().__init__()
        self.first = first
        if first:
            self.const = nn.Parameter(torch.ones(1, out_channels, 4, 4))
        else:
            self.conv0 = EqualizedConv2d(in_channels, out_channels, 3)
        self.noise0, self.style0 = NoiseInput(out_channels), AdaIN(out_channels, w_dim)
        self.conv1 = EqualizedConv2d(out_channels, out_channels, 3)
        self.noise1, self.style1 = NoiseInput(out_channels), AdaIN(out_channels, w_dim)

    def forward(
        self,
        x: torch.Tensor | None,
        w0: torch.Tensor,
        w1: torch.Tensor,
        generator: torch.Generator | None = None,
        shared_noise: bool = False,
    ) -> torch.Tensor:
        if self.first:
            x = self.const.expand(len(w0), -1, -1, -1)  # (B, C, 4, 4)
        else:
            x = self.conv0(F.interpolate(x, scale_factor=2, mode="nearest"))  # (B, C', 2H, 2W)
        x = self.style0(F.leaky_relu(self.noise0(x, generator, shared_noise), 0.2), w0)
        x = self.conv1(x)
        return self.style1(F.leaky_relu(self.noise1(x, generator, shared_noise), 0.2), w1)


class EncoderBlock(nn.Module):
    """Mirror of ``GeneratorBlock``: conv -> act -> (record mu, sigma; normalise) [-> 2x average
    pooling] -> conv -> act -> (record; normalise). Returns the block's output and its two
    contributions to w, each an affine map of the statistics it removed."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, last: bool):
        super().__init__()
        self.last = last  # the 4x4 block does not downsample
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3)
        self.style0 = EqualizedLinear(2 * in_channels, w_dim, gain=1.0)
        self.style1 = EqualizedLinear(2 * out_channels, w_dim, gain=1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.leaky_relu(self.conv0(x), 0.2)
        mean, std = instance_stats(x)
        w0 = self.style0(torch.cat([mean, std], dim=1))
        x = instance_norm(x, mean, std)
        if not self.last:
            x = F.avg_pool2d(x, 2)  # (B, C, H/2, W/2): the second conv runs at the lower resolution
        x = F.leaky_relu(self.conv1(x), 0.2)
        mean, std = instance_stats(x)
        w1 = self.style1(torch.cat([mean, std], dim=1))
        return instance_norm(x, mean, std), w0, w1
