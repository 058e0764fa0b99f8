"""The regression baseline of the cINN paper (Ardizzone et al. 2019, section 4.2, "cGAN / CNN"
comparisons; the task as set by Zhang, Isola & Efros 2016): the same conditioning network as the
cINN with a head that predicts ab directly,

    ab_hat = g(h(L)),        loss = || ab_hat - ab ||^2   (or | . |_1 with ``loss=l1``)

A regression has one answer per grey image, the conditional mean (L2) or median (L1) of the
plausible colourings: where a petal may be red or yellow, it predicts their average, a washed-out
brown. That is the failure a generative colouriser exists to fix; ``compare.py task=colourise``
shows it side by side (its 8 "colourings" are identical: variance 0 by construction).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from zoo.data.base import DataInfo
from zoo.models.base import Colouriser
from zoo.nn.colour import AB_SCALE, ConditionNet, chroma, colour_levels, lightness, to_rgb, upsample_chroma
from zoo.options import LearningRate, Size
from zoo.registry import MODELS


class RegressionHead(nn.Module):
    """Every level's features, upsampled to H/2 and stacked -> two convolutions -> ab at H/2 ->
    bilinear upsampling to H (colour varies slowly; the grey image keeps the detail)."""

    def __init__(self, channels: list[int], width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(sum(channels), width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2, 3, padding=1),
        )

    def forward(self, features: list[torch.Tensor], size: int) -> torch.Tensor:
        half = features[0].shape[-1]
        stacked = torch.cat(
            [features[0]] + [F.interpolate(f, size=half, mode="bilinear", align_corners=False) for f in features[1:]],
            dim=1,
        )  # (B, sum C_i, H/2, W/2)
        return upsample_chroma(self.net(stacked), size)


@MODELS.register("colour_regression")
class ColourRegression(Colouriser):
    stochastic = False
    tiny: ClassVar[dict[str, Any]] = {"cond_width": 4}

    def __init__(
        self,
        info: DataInfo,
        cond_width: Size = 32,
        cond_context: bool = True,
        loss: Literal["l2", "l1"] = "l2",
        lr: LearningRate = 1e-3,
    ):
        super().__init__(info)
        self.loss, self.lr = loss, lr
        self.condition = ConditionNet(cond_width, colour_levels(info.image_size), context=cond_context)
        self.head = RegressionHead(self.condition.channels, 2 * cond_width)

    def predict(self, grey: torch.Tensor) -> torch.Tensor:
        """The grey image (B, 1, H, W) -> scaled ab (B, 2, H, W)."""
        return self.head(self.condition(grey), grey.shape[-1])

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        self.remember_greys(x)
        ab, grey = chroma(x), lightness(x)
        error = self.predict(grey) - ab
        loss = error.pow(2).mean() if self.loss == "l2" else error.abs().mean()
        self.optimize(loss, "net")
        rmse = error.detach().pow(2).mean().sqrt() * AB_SCALE
        return {"loss": loss.detach(), "rmse_ab": rmse}

    @torch.no_grad()
    def colourise(
        self, grey: torch.Tensor, n: int, temperature: float | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The one prediction, ``n`` times (a regression has no temperature and draws nothing)."""
        rgb = to_rgb(grey, self.predict(grey).clamp(-1, 1))
        return rgb[:, None].expand(-1, n, -1, -1, -1)
