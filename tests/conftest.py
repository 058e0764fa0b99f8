"""Shared fixtures: tiny generated data, the real data folder (when ZOO_DATA_DIR is set), and a
helper that runs the real ``train.py`` entry point in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data.base import DataBundle, DataInfo, ImageDataset
from zoo.models.base import GenerativeModel
from zoo.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def private_torch_hub(tmp_path_factory):
    """No test reads or writes the user's torch hub cache, where the Inception weights live:
    ``TORCH_HOME`` points into the session's temporary folder (subprocesses inherit it)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
    yield
    patch.undo()


@pytest.fixture
def real_data() -> Path:
    """The real data folder (``ZOO_DATA_DIR``); tests that need it skip with a reason when unset."""
    path = os.environ.get("ZOO_DATA_DIR")
    if not path:
        pytest.skip("real data not available: set ZOO_DATA_DIR to the data folder (see README, 'Data')")
    if not Path(path).is_dir():
        pytest.fail(f"ZOO_DATA_DIR={path} is not a folder")
    return Path(path)


def doodles(n: int, seed: int) -> np.ndarray:
    """``n`` fake 28x28 'doodles' (N, 784) uint8: a filled square at a random place, ink = 255."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        r, c = rng.integers(2, 18, size=2)
        images[i, r : r + 8, c : c + 8] = 255
    return images.reshape(n, 784)


def write_quickdraw(root: Path) -> Path:
    """A data root with two small Quick, Draw! categories in the official file format."""
    folder = root / "data" / "quickdraw"
    folder.mkdir(parents=True)
    np.save(folder / "cat.npy", doodles(300, 0))
    np.save(folder / "full_numpy_bitmap_smiley face.npy", doodles(200, 1))
    return root / "data"


@pytest.fixture
def quickdraw_root(tmp_path: Path) -> Path:
    return write_quickdraw(tmp_path)


@pytest.fixture(scope="module")
def quickdraw_root_module(tmp_path_factory) -> Path:
    """The same, shared by the tests of one module (for fixtures that train once)."""
    return write_quickdraw(tmp_path_factory.mktemp("quickdraw"))


def tiny_bundle(
    n_train: int = 256, n_test: int = 64, size: int = 16, channels: int = 1, binary: bool = True, colour: bool = False
) -> DataBundle:
    """Small structured images: a filled square (side size/2) at a random place; label = left/right half.
    ``colour``: RGB, each square in one of three colours on a darker background of another (what a
    colouriser can learn: the colour goes with the square's lightness)."""
    g = torch.Generator().manual_seed(0)
    side = size // 2
    palette = torch.tensor([[230, 60, 40], [60, 200, 60], [250, 220, 60]], dtype=torch.uint8)  # red, green, yellow
    channels = 3 if colour else channels

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.zeros(n, channels, size, size, dtype=torch.uint8)
        corners = torch.randint(0, size - side + 1, (n, 2), generator=g)
        hues = torch.randint(0, 3, (n,), generator=g)
        for img, (r, c), hue in zip(images, corners.tolist(), hues.tolist(), strict=True):
            if colour:
                img[:] = (palette[(hue + 1) % 3] // 3)[:, None, None]
                img[:, r : r + side, c : c + side] = palette[hue][:, None, None]
            else:
                img[:, r : r + side, c : c + side] = 255
        return images, (corners[:, 1] >= (size - side) // 2).long()

    info = DataInfo("tiny", channels, size, 2, ("left", "right"), binary=binary and not colour)
    return DataBundle(ImageDataset(*make(n_train)), ImageDataset(*make(n_test)), info)


def tiny_data_for(name: str, size: int = 16) -> DataBundle:
    """The tiny data a registered model trains on: colour squares for a colouriser, else grey ones."""
    return tiny_bundle(size=size, colour=MODELS.get(name).colourises)


def write_colour_folder(root: Path, n: int = 60, size: int = 16) -> Path:
    """A folder of ``n`` small RGB images (the colour squares of ``tiny_bundle``) for ``data=folder``."""
    from PIL import Image

    folder = root / "colour"
    folder.mkdir(parents=True)
    images = tiny_bundle(n_train=n, n_test=1, size=size, colour=True).train.images
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder


def tiny_overrides(name: str) -> list[str]:
    """The model's own ``tiny`` options as command-line overrides (``model.width=4``, ...)."""
    return [
        f"model.{k}={json.dumps(list(v) if isinstance(v, tuple) else v).replace(' ', '')}"
        for k, v in MODELS.get(name).tiny.items()
    ]


# Every registered model at its own tiny widths (``GenerativeModel.tiny``): a new model is in every
# test that iterates over this the moment it registers.
TINY = {name: tiny_overrides(name) for name in MODELS.names()}


def tiny_model(name: str, info: DataInfo) -> GenerativeModel:
    """The registered model ``name`` at its tiny widths."""
    cls = MODELS.get(name)
    return cls(info=info, **cls.tiny)


def run_train(*overrides: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python train.py <overrides>`` as a user would type it, outputs under ``cwd``."""
    full_env = {**os.environ, "WANDB_SILENT": "true"}
    full_env.pop("WANDB_API_KEY", None)
    for key, value in (env or {}).items():  # None removes a variable
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    command = [sys.executable, str(ROOT / "train.py"), f"runs_dir={cwd / 'runs'}", "trainer.progress=false", *overrides]
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def colourisers(tmp_path_factory) -> tuple[Path, Path]:
    """A working folder with a tiny cINN and a tiny regression baseline trained (6 steps each,
    through train.py) on a folder of colour squares, and the data root: for the tests of
    ``compare.py task=colourise`` and ``zoo.colourise``."""
    from tests.test_train_cli import fast

    workdir = tmp_path_factory.mktemp("colourise")
    root = workdir / "data"
    write_colour_folder(root, n=80)
    for model in ("cinn", "colour_regression"):
        result = run_train(*fast(root, model, steps=6), cwd=workdir)
        assert result.returncode == 0, result.stderr
    return workdir, root


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> dict[str, Path]:
    """A few-step run (through train.py) of each model that draws doodles, on two tiny Quick,
    Draw! categories: for the tests of ``zoo.morph`` and the studio."""
    from tests.test_train_cli import fast, only_run

    base = tmp_path_factory.mktemp("morph")
    folder = base / "data" / "quickdraw"
    folder.mkdir(parents=True)
    np.save(folder / "cat.npy", doodles(300, 0))
    np.save(folder / "smiley_face.npy", doodles(200, 1))
    runs = {}
    for model in ("alpha_gan", "vae", "glow", "dcgan", "alae"):
        result = run_train(*fast(base / "data", model), cwd=base)
        assert result.returncode == 0, result.stderr
        runs[model] = only_run(base, f"{model}-quickdraw")
    return runs
