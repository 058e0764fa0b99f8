"""A hand drawing becomes a Quick, Draw! bitmap however it was drawn; uploads become the model's
size or one clear message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.studio import pictures
from zoo.studio.pictures import Unreadable, canvas_picture, composite, doodle, drawn_anything, read_upload

GREY = DataInfo(name="doodles", channels=1, image_size=32)
COLOUR = DataInfo(name="photos", channels=3, image_size=16)


def ring(width: float, radius: float = 60, centre=(120, 150), side: int = 280) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side]
    r = np.hypot(yy - centre[0], xx - centre[1])
    return ((r > radius - width / 2) & (r < radius + width / 2)).astype(np.float32)


def extent(bitmap: torch.Tensor) -> tuple[int, int, float, float]:
    ys, xs = torch.nonzero(bitmap[0, 0] > 0.3, as_tuple=True)
    return (
        int(ys.max() - ys.min() + 1),
        int(xs.max() - xs.min() + 1),
        float(ys.float().mean()),
        float(xs.float().mean()),
    )


def test_a_drawing_is_centred_and_framed_like_the_data_whatever_the_brush():
    """The same ring drawn thin, medium and thick, off-centre: every bitmap spans about 256/304 of
    the 28-pixel bitmap, sits in the middle of the padded 32-pixel image, and holds about the
    same ink (the strokes are brought to the data's width)."""
    bitmaps = [doodle(ring(width), 32) for width in (6, 20, 40)]
    inks = [float(b.sum()) for b in bitmaps]
    for bitmap in bitmaps:
        assert bitmap.shape == (1, 1, 32, 32) and bitmap.min() >= 0 and bitmap.max() <= 1
        h, w, cy, cx = extent(bitmap)
        assert abs(h - 25) <= 1.5 and abs(w - 25) <= 1.5, (h, w)
        assert abs(cy - 15.5) < 1 and abs(cx - 15.5) < 1, (cy, cx)
        assert bitmap[..., :2, :].sum() == 0 and bitmap[..., -2:, :].sum() == 0  # the 28 -> 32 padding
    assert max(inks) / min(inks) < 1.2, inks
    window = 120 / (256 / 304)  # canvas pixels per 28: the stroke centres of the ring span 120
    thick_unadjusted = float(ring(40).sum()) * (28 / window) ** 2
    assert max(inks) < thick_unadjusted / 2, "a thick brush must be thinned to the data's stroke width"


def test_an_empty_canvas_is_refused_with_what_to_do():
    with pytest.raises(ZooError, match="empty: draw something"):
        doodle(np.zeros((280, 280), np.float32), 32)
    with pytest.raises(ZooError, match="canvas A is empty"):
        canvas_picture({"background": np.zeros((280, 280, 3), np.uint8), "layers": []}, GREY, "A")
    with pytest.raises(ZooError, match="canvas B is empty"):
        canvas_picture(None, GREY, "B")


def test_strokes_are_painted_over_the_background():
    background = np.zeros((8, 8, 4), np.uint8)
    background[..., 3] = 255
    layer = np.zeros((8, 8, 4), np.uint8)
    layer[2, 3] = (255, 255, 255, 255)
    layer[5, 5] = (255, 255, 255, 128)
    value = {"background": background, "layers": [layer], "composite": None}
    rgb = composite(value)
    assert rgb.shape == (8, 8, 3) and rgb[2, 3].tolist() == [1, 1, 1] and rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[5, 5, 0] == pytest.approx(128 / 255, abs=1e-3)
    assert drawn_anything(value) and not drawn_anything({"background": background, "layers": []})


def test_a_colour_canvas_is_a_photo_at_the_models_size():
    value = {"background": np.full((280, 280, 3), 200, np.uint8), "layers": []}
    x = canvas_picture(value, COLOUR, "A")
    assert x.shape == (1, 3, 16, 16) and torch.allclose(x, torch.full_like(x, 200 / 255), atol=1 / 255)


def test_uploads_are_resized_and_cropped_and_bad_ones_get_one_message(tmp_path, monkeypatch):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (300, 100), (10, 200, 30)).save(wide)
    x = read_upload(wide, COLOUR, "photo")
    assert x.shape == (1, 3, 16, 16) and abs(float(x[0, 1].mean()) - 200 / 255) < 0.01
    assert read_upload(wide, GREY, "photo").shape == (1, 1, 32, 32)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ZooError, match="photo is not a picture the studio can read"):
        read_upload(text, COLOUR, "photo")
    with pytest.raises(ZooError, match="no photo yet: upload a picture"):
        read_upload(None, COLOUR, "photo")
    with pytest.raises(ZooError, match=r"the photo \(cat.heic\) is not a picture the studio can read"):
        read_upload(Unreadable("cat.heic", "cannot identify image file"), COLOUR, "photo")  # what the page passes on
    monkeypatch.setattr(pictures, "MAX_PIXELS", 10_000)
    with pytest.raises(ZooError, match="300x100 pixels, more than the studio reads"):
        read_upload(wide, COLOUR, "photo")
    monkeypatch.setattr(pictures, "MAX_PIXELS", 40_000_000)
    monkeypatch.setattr(pictures, "MAX_SIDE", 50)  # a huge picture is downscaled first, still model-sized
    assert read_upload(wide, COLOUR, "photo").shape == (1, 3, 16, 16)


@pytest.mark.parametrize("radius", [-15, -6, -1, 1, 4, 15])
def test_thickening_and_thinning_strokes_is_a_disc_whatever_its_radius(radius):
    """The distance transform gives what a disc (x^2 + y^2 <= r^2 + 1/2) slid over the drawing
    gives, the image's border counting as background; it costs the same at any radius."""
    from zoo.studio.pictures import _morph

    torch.manual_seed(0)
    mask = (torch.nn.functional.avg_pool2d(torch.rand(1, 1, 120, 120), 5, 1, 2) > 0.55).float()
    r = abs(radius)
    grid = torch.arange(-r, r + 1, dtype=torch.float32)
    disc = ((grid[:, None] ** 2 + grid[None, :] ** 2) <= r**2 + 0.5).float()[None, None]
    hits = torch.nn.functional.conv2d(mask, disc, padding=r)
    expected = (hits > 0).float() if radius > 0 else (hits >= disc.sum() - 0.5).float()
    assert 0 < mask.mean() < 1 and torch.equal(_morph(mask, radius), expected)
