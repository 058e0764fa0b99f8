"""A folder of images: decoded once, resized and centre-cropped, split with a seed; bad folders
and unreadable images are named in one clear message."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.data import build_data
from zoo.errors import ZooError


def load(root: Path, path: str = "imgs", **options):
    return build_data("folder", name="mine", root=str(root), path=path, progress=False, **options)


@pytest.fixture
def image_root(tmp_path) -> Path:
    folder = tmp_path / "imgs" / "nested"
    folder.mkdir(parents=True)
    for i in range(12):
        colour = (i * 20, 255 - i * 20, 128)
        Image.new("RGB", (80, 64), colour).save(folder / f"{i}.png")  # wider than tall: cropped
    Image.new("RGB", (32, 32), (0, 0, 0)).save(tmp_path / "imgs" / "small.jpg")  # upscaled
    (tmp_path / "imgs" / "notes.txt").write_text("not an image, ignored by extension")
    return tmp_path


def test_images_are_resized_cropped_and_split(image_root):
    data = load(image_root, image_size=16, test_fraction=0.25)
    assert len(data.train) + len(data.test) == 13 and len(data.test) == 3
    assert data.train.images.shape[1:] == (3, 16, 16) and data.info.num_classes == 0
    colours = {tuple(img[:, 8, 8].tolist()) for img in torch.cat([data.train.images, data.test.images])}
    assert (20, 235, 128) in colours and (0, 0, 0) in colours


def test_grayscale_option(image_root):
    assert load(image_root, image_size=16, channels=1).train.images.shape[1] == 1


def test_relative_path_resolves_against_root_and_absolute_is_kept(image_root):
    assert len(load(image_root, path=str(image_root / "imgs"), image_size=8).train) > 0


def test_missing_folder(tmp_path):
    with pytest.raises(ZooError, match=r"image folder .*nowhere does not exist. Set data.path"):
        load(tmp_path, path="nowhere")


def test_empty_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    with pytest.raises(ZooError, match=r"holds no .jpg/.jpeg/.png files"):
        load(tmp_path)


def test_unreadable_image_is_named(image_root):
    bad = image_root / "imgs" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(ZooError, match=r"cannot read the image .*broken.jpg.*Remove it"):
        load(image_root)


def test_real_flowers_folder(real_data):
    data = build_data("folder", name="flowers64", root=str(real_data), path="flowers64", progress=False)
    assert len(data.train) + len(data.test) == 7985
    assert data.train.images.shape[1:] == (3, 64, 64)
    assert 20 < data.train.images[:500].float().mean() < 235
    assert np.unique(data.train.images[:50].numpy()).size > 100  # real photos, not a constant
