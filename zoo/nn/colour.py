"""CIELAB for colourisers, and the conditioning network the cINN and its regression baseline share.

Colourisation models the chromaticity ``ab`` of an image given its lightness ``L`` (CIELAB, D65),
as in Ardizzone et al. 2019 section 4.2: the grey image is exactly the L channel, so nothing a
model does to ``ab`` can change it. The colour maths is kornia's; here are only the fixed scalings
(L in [0, 100] -> [-1, 1]; every sRGB colour has |a|, |b| < 110, so ab / 110 lies in (-1, 1)).

A grey image, wherever the zoo takes one (a colouriser's ``colourise``, a grey photo from the
command line), is the lightness L / 100 as a one-channel image (B, 1, H, W) in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb, rgb_to_lab
from torch import nn

from zoo.nn.pixels import halvings

AB_SCALE = 110.0


def lightness(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> the grey image L / 100 (B, 1, H, W) in [0, 1]."""
    return rgb_to_lab(rgb.float())[:, :1] / 100


def chroma(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> ab / ``AB_SCALE`` (B, 2, H, W), each in (-1, 1)."""
    return rgb_to_lab(rgb.float())[:, 1:] / AB_SCALE


def to_rgb(grey: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """The grey image (B, 1, H, W) and scaled ab (B, 2, H, W) -> RGB in [0, 1] (colours outside
    the sRGB gamut are clipped, as every colourisation paper shows them)."""
    lab = torch.cat([grey.float() * 100, ab.float() * AB_SCALE], dim=1)
    return lab_to_rgb(lab, clip=True)


def subsample_chroma(ab: torch.Tensor, factor: int) -> torch.Tensor:
    """ab (B, 2, H, W) -> its means over ``factor`` x ``factor`` blocks (B, 2, H/f, W/f): chroma at
    a lower resolution than lightness, as JPEG's 4:2:0 (factor 2); the eye resolves colour far
    more coarsely than brightness, and the grey image keeps the detail."""
    return F.avg_pool2d(ab, factor) if factor > 1 else ab


def upsample_chroma(ab: torch.Tensor, size: int) -> torch.Tensor:
    """Low-resolution ab (B, 2, h, w) -> (B, 2, size, size), bilinearly."""
    if ab.shape[-1] == size:
        return ab
    return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


def colour_levels(size: int) -> int:
    """How many levels a colouriser's networks have on a ``size`` x ``size`` map: three where it
    halves that often above 4 pixels (64 -> 32, 16, 8), else as many as it does, at least one."""
    return max(1, min(3, halvings(size, 4)))


def grey_rgb(grey: torch.Tensor) -> torch.Tensor:
    """The grey image as RGB (ab = 0), for grids and the comparison's "grey input" row."""
    return to_rgb(grey, grey.new_zeros(grey.shape[0], 2, *grey.shape[2:]))


def as_grey(images: torch.Tensor) -> torch.Tensor:
    """Any image batch in [0, 1] -> the grey image: RGB through L, one channel taken as it is
    (a grey photo's value v is the lightness of (v, v, v))."""
    if images.shape[1] == 3:
        return lightness(images)
    if images.shape[1] == 1:
        return lightness(images.expand(-1, 3, -1, -1))
    raise ValueError(f"expected 1 or 3 channels, got {images.shape[1]}")


class ConditionNet(nn.Module):
    """The grey image (B, 1, H, W) -> one feature map per flow level, at H/2, H/4, ... (a small
    CNN trained end to end with the flow: the cINN paper's conditioning network, here without the
    pre-trained colourisation network it started from, since no weights can be downloaded).

    The map after the j-th halving has ``width * 2^(j-1)`` channels (at most ``4 * width``);
    ``channels`` lists those of the maps returned. The first ``skip`` halvings return no map: for a
    flow on chroma at 1/2^skip of the grey image's resolution the maps start at H/2^(skip+1).

    ``context=True`` adds a top-down path: every level's map also hears the coarser levels
    (upsampled) and the whole image (the coarsest map's mean, the paper's global condition vector),
    each through a 1x1 convolution (a linear map for the mean) added to it. Without it the finest
    level sees ~10 pixels around each point, where a petal's colour depends on the whole flower."""

    def __init__(self, width: int, levels: int, context: bool = False, skip: int = 0):
        super().__init__()
        self.skip = skip
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU())
        self.down = nn.ModuleList()
        all_channels: list[int] = []
        c_in = width
        for i in range(skip + levels):
            c_out = width * min(2**i, 4)
            self.down.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                    nn.ReLU(),
                    nn.Conv2d(c_out, c_out, 3, padding=1),
                    nn.ReLU(),
                )
            )
            all_channels.append(c_out)
            c_in = c_out
        self.channels = all_channels[skip:]
        self.context = None
        if context:  # level i hears level j > i through a 1x1 conv (applied before upsampling: the same map,
            # cheaper) and the whole image through a linear map of the coarsest level's mean
            self.context = nn.ModuleList(
                nn.ModuleDict(
                    {
                        "levels": nn.ModuleList(nn.Conv2d(self.channels[j], c, 1) for j in range(i + 1, levels)),
                        "whole": nn.Linear(self.channels[-1], c),
                    }
                )
                for i, c in enumerate(self.channels)
            )

    def forward(self, grey: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(grey * 2 - 1)  # L in [-1, 1]
        features = []
        for block in self.down:
            h = block(h)  # (B, C_i, H / 2^(i+1), W / 2^(i+1))
            features.append(h)
        features = features[self.skip :]
        if self.context is None:
            return features
        whole = features[-1].mean(dim=(2, 3))  # (B, C_last)
        merged = []
        for i, (f, hear) in enumerate(zip(features, self.context, strict=True)):
            f = f + hear["whole"](whole)[:, :, None, None]
            for g, project in zip(features[i + 1 :], hear["levels"], strict=True):
                f = f + F.interpolate(project(g), size=f.shape[-2:], mode="bilinear", align_corners=False)
            merged.append(f)  # (B, C_i, H_i, W_i)
        return merged
