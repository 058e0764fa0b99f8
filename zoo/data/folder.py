"""Any folder of jpg/png images (searched recursively), e.g. 64x64 cat faces or a user's own set.

Images are decoded once at start (resized so the shorter side is ``image_size``, then centre
cropped) and kept in memory as uint8; an unreadable file stops the run at once with its path,
rather than hours later inside a data-loader worker. The split into train/test is seeded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from zoo.data.base import DataBundle, DataInfo, ImageDataset, seeded_split
from zoo.errors import ZooError
from zoo.memory import check_fits
from zoo.options import Fraction, ImageSize, Name, Seed
from zoo.progress import tracked
from zoo.registry import DATASETS

EXTENSIONS = (".jpg", ".jpeg", ".png")


HIGH_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit grey PNGs and TIFFs open as one of these


def decoded(img: Image.Image) -> Image.Image:
    """A picture as the camera or the painter meant it, in 8-bit RGB or L: turned upright by its
    EXIF orientation (phone photos), high-bit-depth grey scaled to 8 bits (a 16-bit value v is
    v / 257, where converting directly clips every value above 255 to white), and transparent
    pixels composited over white (converting directly shows the colour hidden under them)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in HIGH_BIT_MODES or img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        if img.mode == "F":  # floating-point TIFFs: [0, 1], or already on 0..255
            full = 1.0 if values.max(initial=0) <= 1.0 else 255.0
        else:
            full = 65535.0
        return Image.fromarray(np.clip(np.round(values / full * 255), 0, 255).astype(np.uint8), mode="L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img if img.mode in ("RGB", "L") else img.convert("RGB")


def fit_picture(img: Image.Image, image_size: int, channels: int) -> torch.Tensor:
    """A picture file's image as uint8 ``(C, image_size, image_size)``: ``decoded``, then the
    shorter side resized to ``image_size`` (bicubic), then the centre cropped."""
    img = decoded(img).convert("RGB" if channels == 3 else "L")
    w, h = img.size
    scale = image_size / min(w, h)
    if scale != 1.0:
        img = img.resize((max(image_size, round(w * scale)), max(image_size, round(h * scale))), Image.BICUBIC)
        w, h = img.size
    left, top = (w - image_size) // 2, (h - image_size) // 2
    array = np.asarray(img.crop((left, top, left + image_size, top + image_size)), dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)


def load_image(path: Path, image_size: int, channels: int) -> torch.Tensor:
    """One image file as uint8 ``(C, image_size, image_size)``."""
    try:
        with Image.open(path) as img:
            return fit_picture(img, image_size, channels)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ZooError(
            f"cannot read the image {path}: {e}. Remove it from the folder or convert it to jpg/png."
        ) from None


def _decode_all(files: list[Path], image_size: int, channels: int, desc: str, progress: bool) -> list[torch.Tensor]:
    return [load_image(f, image_size, channels) for f in tracked(files, desc, "images", progress)]


@DATASETS.register("folder")
def folder(
    name: Name,
    root: str,
    path: str,
    image_size: ImageSize = 64,
    channels: Literal[1, 3] = 3,
    test_fraction: Fraction = 0.05,
    split_seed: Seed = 0,
    progress: bool | None = None,
) -> DataBundle:
    directory = Path(path).expanduser()
    if not directory.is_absolute():
        directory = Path(root).expanduser() / directory
    if not directory.is_dir():
        raise ZooError(
            f"image folder {directory} does not exist. Set data.path to a folder of .jpg/.png images "
            "(absolute, or relative to data.root / ZOO_DATA_DIR)."
        )
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise ZooError(
            f"image folder {directory} holds no {'/'.join(EXTENSIONS)} files. Put images there or fix data.path."
        )
    if len(files) < 2:
        raise ZooError(f"image folder {directory} holds only one image; a train/test split needs at least two.")
    # the decoded set is uint8 (N, C, S, S); decoding stacks it once more
    check_fits(
        2 * len(files) * channels * image_size**2,
        f"decoding {len(files):,} images at {image_size}x{image_size}",
        "lower data.image_size, or use a folder with fewer images",
    )
    bar = sys.stderr.isatty() if progress is None else progress  # else a log line every 30 s
    images = torch.stack(_decode_all(files, image_size, channels, f"decoding {directory.name}", bar))
    train_idx, test_idx = seeded_split(len(images), test_fraction, split_seed)
    info = DataInfo(name, channels, image_size)
    return DataBundle(ImageDataset(images[train_idx]), ImageDataset(images[test_idx]), info)
