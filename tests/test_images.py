"""``zoo.images``: grids people look at."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from zoo.images import labelled_columns


def test_labelled_columns_write_every_name_whole_above_its_images(tmp_path):
    """A name wider than its column (``flow_matching`` over 32-pixel samples) widens the column
    instead of being cut; the images keep their pixels, centred under it."""
    white, black = torch.ones(3, 1, 32, 32), torch.zeros(3, 1, 32, 32)
    path = labelled_columns({"flow_matching": black, "vae": white}, tmp_path / "grid.png")
    canvas = np.asarray(Image.open(path).convert("L"))

    reference = Image.new("L", (200, 14), 255)
    ImageDraw.Draw(reference).text((2, 1), "flow_matching", fill=0)
    name = np.asarray(reference)
    text_width = int(np.nonzero((name < 128).any(axis=0))[0].max()) + 1
    assert canvas.shape[1] > text_width + 68  # both columns fit beside the whole name
    assert np.array_equal(canvas[:14, :text_width], name[:, :text_width])  # the whole name, as drawn alone

    column = canvas[14:, : text_width + 2]
    dark = np.nonzero((column < 10).any(axis=0))[0]  # the columns of pixels that cross the black samples
    assert len(dark) == 64  # 32 pixels at scale 2, none cut
    margin_left, margin_right = dark[0], column.shape[1] - 1 - dark[-1]
    assert abs(int(margin_left) - int(margin_right)) <= 6  # centred
