"""Every reader of picture files (image folders, Flowers-102, ``zoo.morph a=``, ``zoo.colourise
image=``, the studio's uploads) decodes through ``zoo.data.folder.decoded``: 16-bit grey keeps its
shades, EXIF orientation is applied, and transparent pixels are white, not their hidden colour."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo.data.base import DataInfo
from zoo.data.folder import load_image
from zoo.studio.pictures import read_upload


def test_a_16_bit_grey_png_keeps_its_shades(tmp_path):
    ramp = (np.arange(16 * 16).reshape(16, 16) * 257).astype(np.uint16)  # 8-bit value v stored as v * 257
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    expected = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(load_image(tmp_path / "deep.png", 16, 1)[0].numpy(), expected)
    rgb = load_image(tmp_path / "deep.png", 16, 3).numpy()
    assert all(np.array_equal(rgb[c], expected) for c in range(3))
    upload = read_upload(tmp_path / "deep.png", DataInfo(name="toy", channels=1, image_size=16), "picture")
    assert np.array_equal((upload[0, 0] * 255).round().byte().numpy(), expected)


def test_exif_orientation_turns_a_phone_photo_upright(tmp_path):
    upright = np.zeros((16, 16, 3), np.uint8)
    upright[:4] = (255, 0, 0)  # a red band along the top
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # as the sensor wrote it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    stored.save(tmp_path / "phone.png", exif=exif)
    got = load_image(tmp_path / "phone.png", 16, 3).permute(1, 2, 0).numpy()
    assert np.array_equal(got, upright)


@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_transparent_pixels_are_white_not_their_hidden_colour(tmp_path, mode):
    """The top half is transparent over a hidden blue, the bottom half opaque red."""
    opaque = np.zeros((16, 16), bool)
    opaque[8:] = True
    if mode == "RGBA":
        rgba = np.zeros((16, 16, 4), np.uint8)
        rgba[..., 2] = 255
        rgba[opaque] = (255, 0, 0, 255)
        picture = Image.fromarray(rgba, "RGBA")
    else:  # a palette image whose entry 0 (blue) is marked transparent
        picture = Image.fromarray(opaque.astype(np.uint8), "P")
        picture.putpalette([0, 0, 255, 255, 0, 0])
        picture.info["transparency"] = 0
    picture.save(tmp_path / "cutout.png")
    got = load_image(tmp_path / "cutout.png", 16, 3).permute(1, 2, 0).numpy()
    assert (got[:8] == 255).all(), "transparent pixels are white"
    assert (got[8:] == (255, 0, 0)).all(), "opaque pixels keep their colour"
