"""Image grids for people to look at: as pictures, or written to disk (PNG)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch.nn import functional as F
from torchvision.utils import make_grid, save_image

from zoo.files import atomic_write


def to_image(images: torch.Tensor, scale: int = 4, nrow: int | None = None) -> Image.Image:
    """Images (N, C, H, W) in [0, 1] as one picture, enlarged ``scale`` times (nearest
    neighbour, so that pixels stay pixels), ``nrow`` per row (default: all in one row)."""
    images = images.detach().float().cpu().clamp(0, 1)
    if scale > 1:
        images = F.interpolate(images, scale_factor=scale, mode="nearest")
    grid = make_grid(images, nrow=nrow or len(images), padding=2 if len(images) > 1 else 0, pad_value=1.0)
    array = (grid * 255).round().byte().permute(1, 2, 0).numpy()  # (H, W, C)
    return Image.fromarray(array[:, :, 0] if images.shape[1] == 1 else array)


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """Save images (B, C, H, W) in [0, 1] as one PNG grid, written atomically."""
    path = Path(path)
    nrow = nrow or max(1, int(math.sqrt(len(images))))
    atomic_write(
        path,
        lambda tmp: save_image(images.detach().float().cpu().clamp(0, 1), tmp, nrow=nrow, padding=2, pad_value=0.5),
        "image grid",
        "free some space and rerun.",
    )
    return path


def pairs(originals: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Interleave rows: originals in odd rows of 8, their reconstructions right below."""
    rows = []
    for start in range(0, len(originals), 8):
        rows += [originals[start : start + 8], reconstructions[start : start + 8]]
    return torch.cat(rows)


def labelled_columns(columns: dict[str, torch.Tensor], path: Path, scale: int = 2) -> Path:
    """Side by side: one column of images (N, C, H, W) in [0, 1] per name, the whole name above it
    (a column is widened, its images centred, where the name is wider than they are)."""
    path = Path(path)
    tiles = []
    for images in columns.values():
        tile = make_grid(images.float().cpu().clamp(0, 1), nrow=1, padding=2, pad_value=0.5)
        array = (tile * 255).round().byte().permute(1, 2, 0).numpy()  # (H, W, 3)
        tiles.append(Image.fromarray(array).resize((tile.shape[2] * scale, tile.shape[1] * scale), Image.NEAREST))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [
        max(tile.width, math.ceil(measure.textlength(name)) + 4) for name, tile in zip(columns, tiles, strict=True)
    ]
    header, gap = 14, 6
    canvas = Image.new("RGB", (sum(widths) + gap * len(widths), max(t.height for t in tiles) + header), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for name, tile, width in zip(columns, tiles, widths, strict=True):
        canvas.paste(tile, (x + (width - tile.width) // 2, header))
        draw.text((x + 2, 1), name, fill="black")
        x += width + gap
    return atomic_write(path, canvas.save, "image", "free some space and rerun.")
