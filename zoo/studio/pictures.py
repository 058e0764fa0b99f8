"""Pictures in and out of the studio: a hand-drawn canvas made into a Quick, Draw! bitmap, an
uploaded photo made into the model's size, and tensors made into images a browser shows.

Quick, Draw!'s 28x28 bitmaps were rendered from strokes in a 256-unit box, centred, with a line
16 units wide and 16 units of padding on each side (the data set's rendering notes), so a
drawing's stroke centres span 256 / 304 of the bitmap and a stroke is 16 / 304 of it (about 1.5
pixels at 28).
A canvas drawing is brought to the same framing and stroke width before a model sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from scipy.ndimage import distance_transform_edt
from torch.nn import functional as F

from zoo.data.base import DataInfo, fit_to_size
from zoo.data.folder import decoded, fit_picture
from zoo.errors import ZooError
from zoo.images import to_image

BITMAP = 28  # Quick, Draw!'s bitmap side
DRAWING_SPAN = 256 / 304  # the part of the bitmap a drawing's stroke centres span
STROKE_WIDTH = 16 / 304 * BITMAP  # in bitmap pixels
MAX_PIXELS = 40_000_000  # larger uploads are refused before they are decoded
MAX_SIDE = 2048  # larger uploads are downscaled to this first


def composite(value: dict[str, Any] | np.ndarray | None) -> np.ndarray | None:
    """A sketchpad's value (background and drawn layers, RGBA arrays) as one RGB float image
    (H, W, 3) in [0, 1], the layers painted over the background; None when nothing was sent."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        layers, background = [], value
    else:
        layers, background = list(value.get("layers") or []), value.get("background")
        if background is None and not layers:
            return None
    out = None
    if background is not None:
        out = _rgba(background)[..., :3] * _rgba(background)[..., 3:]
    for layer in layers:
        rgba = _rgba(layer)
        out = (np.zeros_like(rgba[..., :3]) if out is None else out) * (1 - rgba[..., 3:]) + rgba[..., :3] * rgba[
            ..., 3:
        ]
    return out


def _rgba(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.shape[2] == 3:
        array = np.concatenate([array, np.ones_like(array[..., :1])], axis=2)
    return array


def drawn_anything(value: dict[str, Any] | None) -> bool:
    """Whether any stroke was drawn on the sketchpad (a background alone is not a drawing)."""
    layers = (value or {}).get("layers") or []
    return any(_rgba(layer)[..., 3].max() > 0 for layer in layers)


def _morph(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Dilate (radius > 0) or erode (radius < 0) a binary mask (1, 1, H, W) with a disc: a pixel
    within ``radius`` of the ink (dilation) or of the background (erosion), by the Euclidean
    distance transform, whose cost does not grow with the radius (a thick brush needs a big one)."""
    if radius == 0:
        return mask
    inside = mask[0, 0].numpy() > 0.5
    reach = (radius**2 + 0.5) ** 0.5  # the disc: x^2 + y^2 <= r^2 + 1/2
    if radius > 0:
        kept = distance_transform_edt(~inside) <= reach
    else:  # ink stays where no background pixel (beyond the border too) is within the disc
        kept = distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1] > reach
    return torch.from_numpy(kept).float()[None, None]


def doodle(ink: np.ndarray, image_size: int) -> torch.Tensor:
    """A hand drawing (H, W) in [0, 1] (1 = ink) as a Quick, Draw! bitmap (1, 1, S, S) in [0, 1]:
    centred on its ink, scaled so that it spans the bitmap as the data set's drawings do, strokes
    thinned or thickened to the data set's width, area-averaged to 28x28, padded to ``image_size``."""
    mask = torch.from_numpy(np.ascontiguousarray(ink > 0.5)).float()[None, None]  # (1, 1, H, W)
    area = float(mask.sum())
    if area < 4:
        raise ZooError("empty: draw something (white ink on the black canvas), or use a test doodle")
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    # stroke width: across a stroke w pixels wide the distances to the background run 1, 2, ..,
    # w/2, .., 2, 1, whose mean is w/4 + 1/2
    width = max(1.0, 4 * float(distance_transform_edt(ink > 0.5)[ink > 0.5].mean()) - 2)
    span = max(max(y1 - y0, x1 - x0) - width, 1.0)  # of the stroke centres
    window = span / DRAWING_SPAN  # canvas pixels that become the 28-pixel bitmap
    target = STROKE_WIDTH * window / BITMAP
    mask = _morph(mask, round((target - width) / 2))
    cy, cx, half = (y0 + y1) / 2, (x0 + x1) / 2, window / 2
    top, left, n = round(cy - half), round(cx - half), max(BITMAP, round(window))
    h, w = mask.shape[-2:]
    padded = F.pad(mask, (max(0, -left), max(0, left + n - w), max(0, -top), max(0, top + n - h)))
    crop = padded[..., max(0, top) : max(0, top) + n, max(0, left) : max(0, left) + n]
    bitmap = F.adaptive_avg_pool2d(crop, BITMAP)  # (1, 1, 28, 28), antialiased by averaging
    eight_bit = (bitmap.clamp(0, 1) * 255).round().to(torch.uint8)
    return fit_to_size(eight_bit, image_size, "pad").float() / 255


def canvas_picture(value: dict[str, Any] | None, info: DataInfo, name: str) -> torch.Tensor:
    """What the models see of a canvas (1, C, S, S) in [0, 1]: a doodle for grey data, the
    canvas resized and cropped as a photo for colour data."""
    rgb = composite(value)
    if rgb is None:
        raise ZooError(f"canvas {name} is empty: draw something, or use a test doodle")
    if info.channels == 1:
        try:
            return doodle(rgb.mean(axis=2), info.image_size)
        except ZooError as e:
            raise ZooError(f"canvas {name} is {e}") from None
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8))
    return fit_picture(picture, info.image_size, info.channels).float().unsqueeze(0) / 255


def on_test_image(value: dict[str, Any] | None, image: torch.Tensor) -> torch.Tensor:
    """A canvas showing a test image (C, S, S) with strokes drawn over it, as the models see it:
    the canvas the user sees, brought back to S x S by averaging each image pixel's block of canvas
    pixels (the inverse of the nearest-neighbour enlargement that put the image there). Untouched
    pixels are the test image exactly; a stroke is the ink it covers of each pixel. Returns (1, C, S, S)."""
    rgb = composite(value)
    if rgb is None:
        return image[None]
    side, size = rgb.shape[0], image.shape[-1]
    source = nearest_source(side, size)
    blocks = np.zeros((size, side))
    blocks[source, np.arange(side)] = 1.0
    blocks /= blocks.sum(axis=1, keepdims=True)  # (S, side): row i averages the canvas pixels of pixel i
    small = np.einsum("is,stc,jt->cij", blocks, rgb, blocks)  # (3, S, S)
    picture = torch.from_numpy(small).float()
    if image.shape[0] == 1:
        picture = picture.mean(dim=0, keepdim=True)
    return ((picture.clamp(0, 1) * 255).round() / 255)[None]  # 8-bit, as a test image is


@dataclass(frozen=True)
class Unreadable:
    """An upload the page's image component could not decode, passed on so that the action says so."""

    name: str
    reason: str


def read_upload(path: str | Path | Unreadable | None, info: DataInfo, what: str) -> torch.Tensor:
    """An uploaded picture file (1, C, S, S) in [0, 1], resized and centre-cropped to the model's
    size; anything that is not a readable picture of a sane size is one clear ``ZooError``."""
    if path is None:
        raise ZooError(f"no {what} yet: upload a picture (png, jpg, webp)")
    if isinstance(path, Unreadable):
        raise ZooError(f"the {what} ({path.name}) is not a picture the studio can read (png, jpg, webp): {path.reason}")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ZooError(
                    f"the {what} is {img.width}x{img.height} pixels, more than the studio reads "
                    f"({MAX_PIXELS // 1_000_000} megapixels); scale it down first"
                )
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEGs decode straight to a smaller size
            img = decoded(img)  # upright, 8-bit, transparency over white
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            return fit_picture(img, info.image_size, info.channels).float().unsqueeze(0) / 255
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ZooError(f"the {what} is not a picture the studio can read (png, jpg, webp): {e}") from None


def nearest_source(side: int, size: int) -> np.ndarray:
    """For each of ``side`` canvas pixels, the image pixel (of ``size``) it shows when enlarged."""
    return (np.arange(side) * size) // side


def to_canvas(image: torch.Tensor, side: int) -> np.ndarray:
    """One image (C, H, W) in [0, 1] as a canvas background (side, side, 3) uint8, each pixel a
    block of canvas pixels (``nearest_source``)."""
    pixels = np.asarray(to_image(image[None], scale=1).convert("RGB"))  # (H, W, 3)
    source = nearest_source(side, pixels.shape[0])
    return np.ascontiguousarray(pixels[source][:, source])
