"""Glow — Kingma & Dhariwal (2018), "Glow: Generative Flow with Invertible 1x1 Convolutions".

An invertible network f maps an image x to latents z = f(x), with an exact log-density by the
change of variables:

    log p(x) = log p(z) + sum_i log |det df_i/df_{i-1}|

Preprocessing (section 3, "dequantisation"): an 8-bit image is reduced to ``n_bits`` (n_bins =
2^n_bits levels), scaled to [-0.5, 0.5) and given uniform noise u ~ U(0, 1/n_bins). The discrete
model P(x) = integral of p over the bin, so -log P(x) <= E_u[-log p(x + u)] + D log n_bins, the
figure reported (as bits/dim = nll / (D ln 2)). Optionally (``logit_alpha``, RealNVP section 4.1)
the dequantised image first goes through x -> logit(alpha + (1 - 2 alpha)(x + 0.5)) with its
log-determinant counted, which spreads the saturated 0/255 pixels of line drawings and digits.

Multi-scale architecture (RealNVP, section 3.6 of Dinh et al. 2017): L levels, each
squeeze -> K steps of flow -> split; half the channels are factored out at each split as z_i with a
learned Gaussian prior p(z_i | h_i) whose mean and log-scale come from a zero-initialised
convolution of the remaining half h_i. The top level's prior is learned too. One step of flow is
ActNorm -> invertible 1x1 convolution (LU) -> affine coupling (``zoo/nn/flows.py``).

Class-conditional (``conditional=true``): the label conditions every coupling network (cINN-style)
and shifts every prior's mean and log-scale through a learned per-class embedding.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.nn.flows import FlowStep, LogitTransform, ZeroConv2d, squeeze, unsqueeze
from zoo.nn.losses import gaussian_log_prob
from zoo.options import LearningRate, Size
from zoo.registry import MODELS


class Prior(nn.Module):
    """Learned Gaussian p(z | h, y): mean and log-scale from a zero-initialised conv of h (split
    levels) or from learned constants (top level), plus a per-class offset when conditional."""

    def __init__(self, channels: int, size: int, h_channels: int | None, num_classes: int):
        super().__init__()
        self.conv = ZeroConv2d(h_channels, 2 * channels) if h_channels else None
        self.top = None if h_channels else nn.Parameter(torch.zeros(1, 2 * channels, size, size))
        self.class_offset = nn.Embedding(num_classes, 2 * channels) if num_classes else None
        if self.class_offset is not None:
            nn.init.zeros_(self.class_offset.weight)

    def forward(self, h: torch.Tensor | None, y: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        params = self.conv(h) if self.conv is not None else self.top.expand(batch, -1, -1, -1)
        if self.class_offset is not None:
            if y is None:
                raise ValueError("a conditional flow needs labels")
            params = params + self.class_offset(y)[:, :, None, None]
        mean, log_scale = params.chunk(2, dim=1)
        return mean, log_scale


class Level(nn.Module):
    """squeeze -> K steps of flow -> (split off half the channels with a learned prior)."""

    def __init__(self, channels: int, size: int, K: int, hidden: int, additive: bool, num_classes: int, split: bool):
        super().__init__()
        c = channels * 4
        self.steps = nn.ModuleList(FlowStep(c, hidden, additive=additive, num_classes=num_classes) for _ in range(K))
        self.split = split
        self.z_channels = c // 2 if split else c
        self.prior = Prior(self.z_channels, size // 2, c - self.z_channels if split else None, num_classes)

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (h passed on or None, z factored out, log-det, log p(z))."""
        h = squeeze(x)  # (B, 4C, H/2, W/2)
        logdet = x.new_zeros(x.shape[0])
        for step in self.steps:
            h, ld = step(h, y)
            logdet = logdet + ld
        if self.split:
            h, z = h[:, : -self.z_channels], h[:, -self.z_channels :]
            mean, log_scale = self.prior(h, y, len(x))
            return h, z, logdet, gaussian_log_prob(z, mean, log_scale)
        mean, log_scale = self.prior(None, y, len(x))
        return None, h, logdet, gaussian_log_prob(h, mean, log_scale)

    def inverse(
        self,
        h: torch.Tensor | None,
        z: torch.Tensor | None,
        y: torch.Tensor | None,
        temperature: float,
        batch: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """From (h, z) back to the level's input; a missing z is drawn from the prior at ``temperature``."""
        if z is None:
            mean, log_scale = self.prior(h, y, batch)
            noise = torch.randn(mean.shape, device=mean.device, generator=generator)
            z = mean + torch.exp(log_scale) * noise * temperature
        x = torch.cat([h, z], dim=1) if self.split else z
        for step in reversed(self.steps):
            x = step.inverse(x, y)
        return unsqueeze(x)


@MODELS.register("glow")
class Glow(GenerativeModel):
    can_encode = True
    retired_state = ("updates",)  # the warm-up's count, which the Stepper keeps now
    has_likelihood = True
    sample_controls = ("temperature", "labels")  # labels: class-conditional runs only
    # -log p(x + u) for one draw of the dequantisation noise u: a one-sample estimate of
    # E_u[-log p(x + u)] + D log n_bins, which bounds the discrete -log P(x) from above (the paper's figure)
    likelihood_is_bound = True
    likelihood_kind = "one-sample estimate of an upper bound (uniform dequantisation)"

    tiny: ClassVar[dict[str, Any]] = {"K": 2, "hidden_channels": 8, "sample_temperatures": (0.5, 1.0)}

    def __init__(
        self,
        info: DataInfo,
        K: Annotated[int, Field(ge=1, le=256)] = 8,
        L: Annotated[int, Field(ge=1, le=8)] | None = None,
        hidden_channels: Size = 64,
        coupling: Literal["affine", "additive"] = "affine",
        n_bits: Annotated[int, Field(ge=1, le=8)] = 8,
        conditional: bool = False,
        temperature: Annotated[float, Field(gt=0.0, le=10.0)] = 0.7,
        sample_temperatures: Annotated[tuple[Annotated[float, Field(gt=0.0, le=10.0)], ...], Field(min_length=1)] = (
            0.5,
            0.7,
            1.0,
        ),
        logit_alpha: Annotated[float, Field(gt=0.0, lt=0.5)] | None = 1e-6,
        lr: LearningRate = 1e-3,
        warmup_steps: Annotated[int, Field(ge=0)] = 500,
    ):
        super().__init__(info)
        if coupling not in ("affine", "additive"):
            raise ZooError(f"model.coupling must be affine or additive, got '{coupling}'")
        if L is None:  # the paper's three levels where the size allows, else as many as divide it
            L = next(n for n in (3, 2, 1) if info.image_size % 2**n == 0 or n == 1)
        if info.image_size % 2**L:
            raise ZooError(
                f"image_size {info.image_size} cannot be squeezed L={L} times (needs divisibility by {2**L}); lower model.L"
            )
        if not 1 <= n_bits <= 8:
            raise ZooError(f"model.n_bits must be between 1 and 8, got {n_bits}")
        if conditional and not info.num_classes:
            raise ZooError(f"model.conditional=true needs labelled data; {info.name} has no labels")
        self.n_bits, self.n_bins = n_bits, 2**n_bits
        self.temperature, self.lr, self.warmup_steps = temperature, lr, warmup_steps
        self.sample_temperatures = tuple(sample_temperatures)
        self.conditional = conditional
        if logit_alpha is not None and not 0 < logit_alpha < 0.5:
            raise ZooError(f"model.logit_alpha must be in (0, 0.5) or null, got {logit_alpha}")
        self.logit = LogitTransform(logit_alpha) if logit_alpha is not None else None
        num_classes = info.num_classes if conditional else 0
        levels, c, size = [], info.channels, info.image_size
        for i in range(L):
            levels.append(Level(c, size, K, hidden_channels, coupling == "additive", num_classes, split=i < L - 1))
            c, size = levels[-1].z_channels if i < L - 1 else c * 4, size // 2
        self.levels = nn.ModuleList(levels)

    # -- preprocessing -------------------------------------------------------------------------
    def preprocess(self, x: torch.Tensor, noise: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """[0, 1] 8-bit intensities -> n-bit bins -> [-0.5, 0.5) plus uniform dequantisation noise
        (or the bin centre when ``noise`` is False)."""
        bins = torch.floor(torch.round(x * 255) / 2 ** (8 - self.n_bits))
        offset = torch.rand(x.shape, device=x.device, generator=generator) if noise else torch.full_like(x, 0.5)
        return (bins + offset) / self.n_bins - 0.5

    def postprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of ``preprocess``: the bin a value falls in, as an 8-bit intensity in [0, 1]."""
        bins = torch.floor((x + 0.5) * self.n_bins).clamp(0, self.n_bins - 1)
        return bins * 2 ** (8 - self.n_bits) / 255

    # -- the flow ------------------------------------------------------------------------------
    def flow(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Preprocessed x -> (z per level, summed log-det, summed log-prior), each per example."""
        y = y if self.conditional else None
        zs, logdet, log_pz = [], x.new_zeros(x.shape[0]), x.new_zeros(x.shape[0])
        h = x
        if self.logit is not None:
            h, logdet = self.logit(x)
        for level in self.levels:
            h, z, ld, lp = level(h, y)
            zs.append(z)
            logdet, log_pz = logdet + ld, log_pz + lp
        return zs, logdet, log_pz

    def inverse_flow(
        self,
        zs: list[torch.Tensor | None],
        y: torch.Tensor | None = None,
        temperature: float = 1.0,
        batch: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        y = y if self.conditional else None
        batch = batch or next(z for z in zs if z is not None).shape[0]
        h = None
        for level, z in zip(reversed(self.levels), reversed(zs), strict=True):
            h = level.inverse(h, z, y, temperature, batch, generator)
        return self.logit.inverse(h) if self.logit is not None else h

    def nll_terms(self, x_pre: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """-log p(x) in nats per image for preprocessed x, discretisation term included."""
        _, logdet, log_pz = self.flow(x_pre, y)
        dims = x_pre[0].numel()
        return -(log_pz + logdet) + dims * math.log(self.n_bins)

    # -- training ------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"flow": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def lr_warmup(self) -> dict[str, int]:
        return {"flow": self.warmup_steps}  # linear, from lr / warmup_steps

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        nll = self.nll_terms(self.preprocess(x, noise=True), y)
        loss = nll.mean() / (x[0].numel() * math.log(2))  # bits per dimension
        self.optimize(loss, "flow")
        return {"bits_per_dim": loss.detach(), "nll_nats": nll.mean().detach()}

    # -- encoding, decoding, likelihood, sampling -----------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Deterministic latents (bin centres, no noise): one tensor per level."""
        return self.flow(self.preprocess(x, noise=False), y)[0]

    @torch.no_grad()
    def decode(self, zs: list[torch.Tensor], y: torch.Tensor | None = None) -> torch.Tensor:
        return self.postprocess(self.inverse_flow(zs, y))

    @torch.no_grad()
    def nll(
        self, x: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.nll_terms(self.preprocess(x, noise=True, generator=generator), y)

    @property
    def sample_temperature(self) -> float:
        return self.temperature

    @property
    def likelihood_data(self) -> str:
        return f"{self.n_bits}-bit pixels (dequantised)"

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        t = self.temperature if temperature is None else temperature
        if self.conditional and labels is None:
            labels = torch.arange(n, device=self.device) % self.info.num_classes
        zs: list[torch.Tensor | None] = [None] * len(self.levels)
        return self.postprocess(self.inverse_flow(zs, labels, t, batch=n, generator=generator))

    @torch.no_grad()
    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Samples at several temperatures (same noise), and a latent interpolation strip between
        the first test image and the first one of another class (or simply the second)."""
        grids = {}
        for t in self.sample_temperatures:
            g = torch.Generator(device=generator.device).manual_seed(generator.initial_seed())
            grids[f"samples_t{t:g}"] = self.sample(32, generator=g, temperature=t)
        if self.conditional:  # one row of 8 per class, same noise in every row
            labels = torch.arange(self.info.num_classes, device=x.device).repeat_interleave(8)
            g = torch.Generator(device=generator.device).manual_seed(generator.initial_seed())
            grids["samples_by_class"] = self.sample(len(labels), generator=g, labels=labels)
        other = next((i for i in range(1, len(y)) if y[i] != y[0]), 1)
        za, zb = self.encode(x[:1], y[:1]), self.encode(x[other : other + 1], y[other : other + 1])
        weights = torch.linspace(0, 1, 8, device=x.device).view(8, 1, 1, 1)
        mixed = [a + weights * (b - a) for a, b in zip(za, zb, strict=True)]  # (8, C_i, H_i, W_i) per level
        grids["interpolation"] = self.decode(mixed, y[:1].expand(8) if self.conditional else None)
        return grids
