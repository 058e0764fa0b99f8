"""The time-conditioned U-Net of the diffusion and flow-matching families: diffusers' ``UNet2DModel``
(Ho et al. 2020's architecture: residual blocks with a timestep embedding, self-attention at chosen
resolutions), sized by options so that it trains on a CPU budget.

diffusers is imported here, when a network is built, not at module import: it costs about six
seconds, which every other command (and every model's registration) would otherwise pay.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from zoo.errors import ZooError
from zoo.options import Size

# the options both families take for their U-Net and sampler
Widths = Annotated[tuple[Size, ...], Field(min_length=1, max_length=8)]  # channels per level
SamplerSteps = Annotated[int, Field(ge=1, le=10_000)]
TINY = {"widths": (4, 8), "attention_resolutions": ()}  # the smallest U-Net: the contract tests'


class TimeUNet(nn.Module):
    """``net(x, t)``: x (B, C, H, W) and a time per image (B,) -> (B, C, H, W). ``t`` is a training
    timestep index (diffusion) or 1000 * t for a continuous time t in [0, 1] (flow matching): the
    sinusoidal embedding takes real values. Self-attention at ``attention_resolutions`` (feature
    sizes; None: the coarsest level only)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        widths: list[int],
        attention_resolutions: tuple[int, ...] | None,
        layers_per_block: int,
    ):
        super().__init__()
        from diffusers import UNet2DModel  # slow to import: only when a network is built

        downsamples = len(widths) - 1
        if image_size % 2**downsamples:
            raise ZooError(
                f"model.widths has {len(widths)} levels, so the U-Net halves the image {downsamples} times, "
                f"but image_size={image_size} is not divisible by {2**downsamples}; use fewer levels"
            )
        resolutions = [image_size // 2**i for i in range(len(widths))]
        if attention_resolutions is None:  # the coarsest level: 8x8 for 32x32 doodles, 7x7 for MNIST
            attention_resolutions = (resolutions[-1],)
        unknown = sorted(set(attention_resolutions) - set(resolutions))
        if unknown:
            raise ZooError(
                f"model.attention_resolutions {unknown} are not resolutions of this U-Net ({resolutions}); "
                "pick from those or use []"
            )
        attend = [r in attention_resolutions for r in resolutions]
        self.net = UNet2DModel(
            sample_size=image_size,
            in_channels=channels,
            out_channels=channels,
            block_out_channels=tuple(widths),
            layers_per_block=layers_per_block,
            down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attend),
            up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attend)),
            norm_num_groups=min(8, math.gcd(*widths)),
            attention_head_dim=min(32, max(widths)),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(x, t).sample
