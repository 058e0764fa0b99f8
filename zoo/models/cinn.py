"""cINN — Ardizzone, Lüth, Kruse, Rother & Köthe (2019), "Guided Image Generation with Conditional
Invertible Neural Networks", the colourisation model of its section 4.2.

An invertible network f maps the colour of an image, its CIELAB chromaticity ab, to a latent z,
conditioned on the image's lightness L through a conditioning network c = h(L) trained with it:

    z = f(ab; c),        p(ab | L) = N(z; 0, I) |det df(ab; c) / d ab|

so every z gives a different colouring of the same grey image, and the loss is the exact negative
log-likelihood (eq. 4), in nats per image:

    loss = 0.5 |f(ab; h(L))|^2 - log |det J_f|     (+ the constant of N(0, I))

Conditional coupling block (eqs. 2-3): ab's channels are split (u1, u2); the sub-network sees u1
*and the condition* c, and transforms u2 by an affine map whose log-scale is soft-clamped with the
paper's atan: log s = (2 alpha / pi) atan(raw / alpha). The condition is never transformed, so the
block inverts for any c. Between couplings: ActNorm and an invertible 1x1 convolution (Glow), and
Glow's multi-scale squeeze -> K steps -> split; level i's steps see the conditioning network's
feature map at their resolution, which (``cond_context``) also carries the coarser maps and a global
vector of the whole image (the paper's conditioning network also ends in one global vector)
(``zoo/nn/colour.py``). Layers: ``zoo/nn/flows.py``, shared with Glow.

ab is modelled at half the grey image's resolution (``ab_subsampling``, JPEG's 4:2:0; the paper's
code models it at a quarter and upsamples): ab = mean of each 2x2 block, and a colouring is
up(f^-1(z; c)), bilinearly, under the full-resolution L (the regression baseline's head upsamples
the same way). A quarter of the dimensions; the flow's coarsest latent is 4x4 on 64x64 images.

Sampling: ab = f^-1(T z; h(L)), z ~ N(0, I) at temperature T. Guided generation, colour transfer
(section 4.2): z = f(ab_1; h(L_1)) of one colour image decoded under another image's h(L_2).

Data: 8-bit RGB, dequantised with uniform noise before Lab (a flow on the discrete colours would
pile density on them); ab is scaled by 1/110 for the network, and the log-det of that scaling is
counted, so the reported figure is a density of (subsampled) ab in CIELAB units, in bits per
colour dimension (2 h w values): a conditional density, not comparable with Glow's bits/dim.

The zoo interface: ``encode(x)`` is the full invertible code of an image, [L, z_1, ..., z_L]
(lightness and colour latent), so ``decode`` and ``reconstruct`` are exact up to the chroma
subsampling (exact with ``ab_subsampling=1``) and a morph cross-fades the grey image while it walks
the colour latent; ``sample(n)`` colours fixed grey images (``Colouriser``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.models.base import Colouriser
from zoo.nn.colour import (
    AB_SCALE,
    ConditionNet,
    chroma,
    colour_levels,
    lightness,
    subsample_chroma,
    to_rgb,
    upsample_chroma,
)
from zoo.nn.flows import FlowStep, squeeze, unsqueeze
from zoo.nn.losses import gaussian_log_prob
from zoo.options import LearningRate, Size
from zoo.registry import MODELS

Temperature = Annotated[float, Field(gt=0.0, le=10.0)]


@MODELS.register("cinn")
class CINN(Colouriser):
    can_encode = True
    can_transfer = True
    retired_state = ("updates",)  # the warm-up's count, which the Stepper keeps now
    has_likelihood = True
    likelihood_kind = "exact conditional density (one draw of the RGB dequantisation noise)"

    tiny: ClassVar[dict[str, Any]] = {"K": 1, "hidden_channels": 8, "cond_width": 4}

    def __init__(
        self,
        info: DataInfo,
        K: Annotated[int, Field(ge=1, le=64)] = 4,
        L: Annotated[int, Field(ge=1, le=6)] | None = None,  # flow levels (Glow's name); lightness is `grey` here
        ab_subsampling: Literal[1, 2, 4] = 2,
        hidden_channels: Size = 64,
        cond_width: Size = 32,
        cond_context: bool = True,
        atan_clamp: Annotated[float, Field(gt=0.0, le=10.0)] = 2.0,
        temperature: Temperature = 1.0,
        grid_temperature: Temperature = 0.6,
        lr: LearningRate = 1e-3,
        warmup_steps: Annotated[int, Field(ge=0)] = 200,
    ):
        super().__init__(info)
        size = info.image_size // ab_subsampling  # of the modelled ab
        if info.image_size % ab_subsampling:
            raise ZooError(f"image_size {info.image_size} is not divisible by model.ab_subsampling={ab_subsampling}")
        if L is None:  # three levels where the size allows (32 -> 16, 8, 4), else as many as halve it
            L = colour_levels(size)
        if size % 2**L:
            raise ZooError(f"ab of {size}x{size} cannot be squeezed L={L} times; lower model.L")
        self.ab_subsampling, self.ab_size = ab_subsampling, size
        self.temperature, self.grid_temperature = temperature, grid_temperature
        self.lr, self.warmup_steps = lr, warmup_steps
        self.condition = ConditionNet(cond_width, L, context=cond_context, skip=int(math.log2(ab_subsampling)))
        levels, self.z_shapes = [], []
        c = 2  # ab
        for i in range(L):
            c, size = c * 4, size // 2  # after the squeeze
            levels.append(
                nn.ModuleList(
                    FlowStep(c, hidden_channels, cond_channels=self.condition.channels[i], atan_clamp=atan_clamp)
                    for _ in range(K)
                )
            )
            if i < L - 1:  # split: half the channels leave as z_i
                self.z_shapes.append((c // 2, size, size))
                c //= 2
        self.z_shapes.append((c, size, size))
        self.levels = nn.ModuleList(levels)

    # -- the flow, given the condition ---------------------------------------------------------
    def flow(self, ab: torch.Tensor, grey: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Scaled, subsampled ab (B, 2, h, w) given the grey image (B, 1, H, W) -> (z per level,
        log |det J| per image)."""
        cond = self.condition(grey)
        h, zs, logdet = ab, [], ab.new_zeros(ab.shape[0])
        for i, steps in enumerate(self.levels):
            h = squeeze(h)  # (B, 4C, H/2, W/2)
            for step in steps:
                h, ld = step(h, cond=cond[i])
                logdet = logdet + ld
            if i < len(self.levels) - 1:
                h, z = h.chunk(2, dim=1)
                zs.append(z)
        return [*zs, h], logdet

    def inverse_flow(self, zs: list[torch.Tensor], grey: torch.Tensor) -> torch.Tensor:
        """z per level given the grey image (B, 1, H, W) -> scaled, subsampled ab (B, 2, h, w)."""
        cond = self.condition(grey)
        h = zs[-1]
        for i in reversed(range(len(self.levels))):
            if i < len(self.levels) - 1:
                h = torch.cat([h, zs[i]], dim=1)
            for step in reversed(self.levels[i]):
                h = step.inverse(h, cond=cond[i])
            h = unsqueeze(h)
        return h

    def nll_terms(self, x: torch.Tensor, noise: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """-log p(ab | L) in nats per image, ab in CIELAB units, for 8-bit RGB x dequantised with
        uniform noise (or at the bin centres when ``noise`` is False)."""
        offset = torch.rand(x.shape, device=x.device, generator=generator) if noise else torch.full_like(x, 0.5)
        x = (torch.round(x * 255) + offset) / 256
        ab = self.modelled_ab(x)
        zs, logdet = self.flow(ab, lightness(x))
        log_pz = sum(gaussian_log_prob(z) for z in zs)
        return -(log_pz + logdet) + self.colour_dims * math.log(AB_SCALE)  # p(ab_lab) = p(ab_lab / 110) / 110^dims

    def modelled_ab(self, x: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) -> the modelled ab, scaled and subsampled (B, 2, h, w)."""
        return subsample_chroma(chroma(x), self.ab_subsampling)

    def colour(self, grey: torch.Tensor, zs: list[torch.Tensor]) -> torch.Tensor:
        """The colouring of a grey image (B, 1, H, W) that z gives: RGB (B, 3, H, W)."""
        return to_rgb(grey, upsample_chroma(self.inverse_flow(zs, grey), grey.shape[-1]))

    # -- training ------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"flow": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def lr_warmup(self) -> dict[str, int]:
        return {"flow": self.warmup_steps}  # linear, from lr / warmup_steps

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        self.remember_greys(x)
        nll = self.nll_terms(x, noise=True)
        loss = self.bits_per_dim(nll.mean())  # bits per colour dimension
        self.optimize(loss, "flow")
        return {"bits_per_colour_dim": loss.detach(), "nll_nats": nll.mean().detach()}

    # -- colourising, guided generation, the zoo interface -------------------------------------
    @property
    def sample_temperature(self) -> float:
        return self.temperature

    @property
    def grid_temperatures(self) -> tuple[float, ...]:
        return (1.0, self.grid_temperature)

    @property
    def colour_dims(self) -> int:
        return 2 * self.ab_size**2

    @property
    def likelihood_data(self) -> str:
        return "ab given L (CIELAB units, per colour dimension)"

    @torch.no_grad()
    def colourise(
        self, grey: torch.Tensor, n: int, temperature: float | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        t = self.temperature if temperature is None else temperature
        grey = grey.repeat_interleave(n, dim=0)  # (B n, 1, H, W): image b's n draws are rows b n ... b n + n - 1
        zs = [t * torch.randn(len(grey), *s, device=grey.device, generator=generator) for s in self.z_shapes]
        rgb = self.colour(grey, zs)
        return rgb.view(-1, n, *rgb.shape[1:])  # (B, n, 3, H, W)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[grey image, z_1, ..., z_L]: lightness and the colour latent, together an invertible code."""
        grey = lightness(x)
        zs, _ = self.flow(self.modelled_ab(x), grey)
        return [grey, *zs]

    @torch.no_grad()
    def decode(self, code: list[torch.Tensor], y: torch.Tensor | None = None) -> torch.Tensor:
        return self.colour(code[0], code[1:])

    @torch.no_grad()
    def transfer(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Guided colourisation: the colour latent of each ``source`` image decoded under the
        lightness of the ``target`` image of the same index (both (B, 3, H, W) in [0, 1])."""
        return self.decode([lightness(target), *self.encode(source)[1:]])

    @torch.no_grad()
    def nll(
        self, x: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.nll_terms(x, noise=True, generator=generator)

    @torch.no_grad()
    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The colourisation grids, and colour transfer: row i is source i (its colours, left), then
        its colour latent under the lightness of each target along the top row (the diagonal is
        each image's own reconstruction)."""
        grids = super().extra_grids(x, y, generator)
        images = x[: self.grid_columns - 1]
        n = len(images)
        sources = images.repeat_interleave(n, dim=0)  # (n n, 3, H, W): source i, target j at i n + j
        moved = self.transfer(sources, images.repeat(n, 1, 1, 1)).view(n, n, *images.shape[1:])
        corner = torch.ones_like(images[:1])  # a white tile above the sources
        top = torch.cat([corner, images])[None]  # (1, n + 1, 3, H, W)
        rows = torch.cat([images[:, None], moved], dim=1)  # (n, n + 1, 3, H, W)
        grids["colour_transfer"] = torch.cat([top, rows]).flatten(0, 1)
        return grids
