"""Image grids written to disk (PNG) for people to look at."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torchvision.utils import save_image


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """Save images (B, C, H, W) in [0, 1] as one PNG grid, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nrow = nrow or max(1, int(math.sqrt(len(images))))
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    save_image(images.detach().float().cpu().clamp(0, 1), tmp, nrow=nrow, padding=2, pad_value=0.5)
    os.replace(tmp, path)
    return path


def pairs(originals: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Interleave rows: originals in odd rows of 8, their reconstructions right below."""
    rows = []
    for start in range(0, len(originals), 8):
        rows += [originals[start : start + 8], reconstructions[start : start + 8]]
    return torch.cat(rows)
