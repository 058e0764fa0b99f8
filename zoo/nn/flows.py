"""Invertible layers for normalizing flows (Glow: Kingma & Dhariwal 2018; RealNVP: Dinh et al. 2017).

Every layer maps ``x -> (y, logdet)`` in ``forward`` and ``y -> x`` in ``inverse``, where ``logdet``
is log |det dy/dx| per example (B,). Tensors are (B, C, H, W) throughout.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from zoo.nn.host_state import on_host, saved_on_host, set_on_host


class LogitTransform(nn.Module):
    """x in (-0.5, 0.5) -> logit(alpha + (1 - 2 alpha)(x + 0.5)) (RealNVP section 4.1).

    Spreads the saturated pixels at 0 and 255 (most of MNIST) over an interval the flow can model
    without extreme contraction. log |dy/dx| = log(1 - 2 alpha) - log p - log(1 - p), p the
    squashed value, so likelihoods stay exact for the original data."""

    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.alpha + (1 - 2 * self.alpha) * (x + 0.5)
        logdet = math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return torch.log(p) - torch.log1p(-p), logdet.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha) - 0.5


class ActNorm(nn.Module):
    """Per-channel affine y = s * (x + b), initialised from the first batch so that y has zero mean
    and unit variance per channel (Glow section 3.1). ``initialized`` is a buffer, so it is saved in
    checkpoints and a resumed run never initialises again; every forward pass asks its host copy
    (``zoo/nn/host_state.py``), so it never waits for the GPU."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        saved_on_host(self, "initialized", False)

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        set_on_host(self, "initialized", True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not on_host(self, "initialized"):
            self.initialize(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        logdet = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv2dLU(nn.Module):
    """Invertible 1x1 convolution with W = P L (U + diag(sign(s) * exp(log|s|))) (Glow section 3.2).

    P is a fixed permutation, L unit lower-triangular, U strictly upper-triangular; the diagonal is
    kept as a sign and a log-magnitude, so W stays invertible whatever the optimizer does, and
    log |det W| = sum(log|s|) costs O(C)."""

    def __init__(self, channels: int, generator: torch.Generator | None = None):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=generator))  # a random rotation
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def weight(self) -> torch.Tensor:
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight()
        logdet = self.log_s.sum() * x.shape[2] * x.shape[3]
        return F.conv2d(x, w[:, :, None, None]), logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        w_inv = torch.linalg.inv(self.weight())
        return F.conv2d(y, w_inv[:, :, None, None])


class ZeroConv2d(nn.Module):
    """3x3 convolution initialised to zero with a learned per-channel output scale (Glow's
    ``Conv2dZeros``): each coupling starts as the identity and each prior as N(0, I)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.log_scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * torch.exp(self.log_scale * 3)


class CouplingNet(nn.Module):
    """NN() of the coupling layer: conv3x3 -> ReLU -> conv1x1 -> ReLU -> ZeroConv3x3.

    Conditional coupling, as in cINNs (Ardizzone et al. 2019): the condition is concatenated to the
    input of the network, never transformed itself, so the block stays invertible in x for any
    condition. It is a learned class embedding (``num_classes``, broadcast over the image) or a
    feature map of the same height and width (``cond_channels``: the cINN's conditioning network)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden: int,
        num_classes: int = 0,
        embed: int = 8,
        cond_channels: int = 0,
    ):
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embed) if num_classes else None
        self.cond_channels = cond_channels
        extra = (embed if num_classes else 0) + cond_channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels + extra, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            ZeroConv2d(hidden, out_channels),
        )

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.embedding is not None:
            if labels is None:
                raise ValueError("a conditional flow needs labels")
            e = self.embedding(labels)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, E, H, W)
            x = torch.cat([x, e], dim=1)
        if self.cond_channels:
            if cond is None or cond.shape[1] != self.cond_channels or cond.shape[2:] != x.shape[2:]:
                got = None if cond is None else tuple(cond.shape)
                raise ValueError(
                    f"this coupling needs a condition (B, {self.cond_channels}, H, W) at {x.shape[2:]}, got {got}"
                )
            x = torch.cat([x, cond], dim=1)
        return self.net(x)


class AffineCoupling(nn.Module):
    """x = (x_a, x_b);  (log s, t) = NN(x_a, c);  y_b = (x_b + t) * s;  y = (x_a, y_b);  log |det| = sum log s.

    The scale is soft-clamped, since an unbounded exp(log s) is what makes affine couplings blow up:
    Glow's ``s = sigmoid(log s + 2)`` (0 < s < 1), or, with ``atan_clamp`` = alpha, the cINN paper's
    ``log s = (2 alpha / pi) atan(log s / alpha)`` (|log s| < alpha, so the inverse, which draws the
    samples, can never expand by more than e^alpha either). ``additive=True`` keeps s = 1 (NICE's
    additive coupling, volume preserving). ``c``: the optional condition (class label or feature map)."""

    def __init__(
        self,
        channels: int,
        hidden: int,
        additive: bool = False,
        num_classes: int = 0,
        cond_channels: int = 0,
        atan_clamp: float | None = None,
    ):
        super().__init__()
        self.additive, self.atan_clamp = additive, atan_clamp
        half = channels // 2
        out = (channels - half) * (1 if additive else 2)
        self.net = CouplingNet(half, out, hidden, num_classes, cond_channels=cond_channels)

    def _shift_log_scale(
        self, x_a: torch.Tensor, labels: torch.Tensor | None, cond: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.net(x_a, labels, cond)
        if self.additive:
            return h, None
        shift, raw = h[:, 0::2], h[:, 1::2]
        if self.atan_clamp is None:
            return shift, F.logsigmoid(raw + 2.0)
        return shift, (2 * self.atan_clamp / math.pi) * torch.atan(raw / self.atan_clamp)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x_a, x_b = x.chunk(2, dim=1)
        shift, log_scale = self._shift_log_scale(x_a, labels, cond)
        if log_scale is None:
            return torch.cat([x_a, x_b + shift], dim=1), x.new_zeros(x.shape[0])
        y_b = (x_b + shift) * torch.exp(log_scale)
        return torch.cat([x_a, y_b], dim=1), log_scale.flatten(1).sum(1)

    def inverse(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        z_a, z_b = z.chunk(2, dim=1)
        shift, log_scale = self._shift_log_scale(z_a, labels, cond)
        x_b = z_b - shift if log_scale is None else z_b * torch.exp(-log_scale) - shift
        return torch.cat([z_a, x_b], dim=1)


class FlowStep(nn.Module):
    """One step of flow: ActNorm -> invertible 1x1 convolution -> (conditional) affine coupling.
    ``coupling``: the coupling's options (``additive``, ``num_classes``, ``cond_channels``, ``atan_clamp``)."""

    def __init__(self, channels: int, hidden: int, **coupling: Any):
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvConv2dLU(channels)
        self.coupling = AffineCoupling(channels, hidden, **coupling)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, ld1 = self.actnorm(x)
        x, ld2 = self.invconv(x)
        x, ld3 = self.coupling(x, labels, cond)
        return x, ld1 + ld2 + ld3

    def inverse(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        z = self.coupling.inverse(z, labels, cond)
        z = self.invconv.inverse(z)
        return self.actnorm.inverse(z)


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """Trade space for channels: (B, C, H, W) -> (B, 4C, H/2, W/2); volume preserving."""
    return rearrange(x, "b c (h s1) (w s2) -> b (c s1 s2) h w", s1=2, s2=2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "b (c s1 s2) h w -> b c (h s1) (w s2)", s1=2, s2=2)
