"""Helpers the tests share (a module of helpers, not of tests): tiny data and models, the real
data's fixtures' makers, and the commands run as a user runs them."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zoo.data.base import DataBundle, DataInfo, ImageDataset
from zoo.models.base import GenerativeModel
from zoo.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]


class Params(GenerativeModel):
    """A "model" of bare tensors and the optimizers given by name, to test the Stepper alone."""

    def __init__(self, **optimizers: torch.optim.Optimizer):
        super().__init__(DataInfo("params", 1, 1))
        self.given = optimizers

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.given


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


def user_env(env: dict | None) -> dict[str, str]:
    """The environment a user's command sees: this one, W&B quiet and keyless, ``env`` applied
    (None removes a variable)."""
    full = {**os.environ, "WANDB_SILENT": "true"}
    full.pop("WANDB_API_KEY", None)
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return full


@dataclass
class Result:
    """What a command left: its exit code and what it printed (as subprocess.CompletedProcess has)."""

    returncode: int
    stdout: str
    stderr: str


def in_process(cli: Callable[[list[str]], int], argv: list[str], cwd: Path, env: dict | None = None) -> Result:
    """A command's ``cli(argv)`` called here as the shell would run it: in ``cwd``, with ``env``,
    its output captured; the process's working folder, environment, signal handlers and thread
    count are as they were afterwards."""
    saved_env, saved_cwd, threads = dict(os.environ), os.getcwd(), torch.get_num_threads()
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    command_env = user_env(env)  # from this process's environment, before it is replaced
    try:
        os.environ.clear()
        os.environ.update(command_env)
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli(list(argv))
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        torch.set_num_threads(threads)
        for s, handler in saved_signals.items():
            signal.signal(s, handler)
    return Result(code, out.getvalue(), err.getvalue())


def run_train(*overrides: str, cwd: Path, env: dict | None = None, process: bool = False, timeout: int = 300):
    """``python train.py <overrides>`` as a user would type it, outputs under ``cwd``: in this
    process (``zoo.app.cli``), or with ``process=True`` as a real child process, for the tests
    about the process itself (exit codes of the real command, signals, what Hydra's main does)."""
    argv = [f"runs_dir={cwd / 'runs'}", "trainer.progress=false", *overrides]
    if process:  # flags (-m) before the overrides, as Hydra's parser wants them
        argv = [a for a in argv if a.startswith("-")] + [a for a in argv if not a.startswith("-")]
        command = [sys.executable, str(ROOT / "train.py"), *argv]
        return subprocess.run(command, cwd=cwd, env=user_env(env), capture_output=True, text=True, timeout=timeout)
    from zoo.app import cli

    return in_process(cli, argv, cwd, env)


def run_compare(*overrides: str, cwd: Path, process: bool = False, timeout: int = 300):
    """``python compare.py <overrides>`` with outputs under ``cwd``, in this process or a child."""
    argv = [f"runs_dir={cwd / 'runs'}", "progress=false", *overrides]
    if process:
        command = [sys.executable, str(ROOT / "compare.py"), *argv]
        return subprocess.run(command, cwd=cwd, env=user_env(None), capture_output=True, text=True, timeout=timeout)
    from zoo.compare.command import cli

    return in_process(cli, argv, cwd)


def fast_compare(quickdraw_root: Path, out: Path) -> list[str]:
    """``compare.py`` overrides for the runs of ``fast``: 32 samples, the zoo features only, metric
    budgets of a few steps, no W&B, the report in ``out``."""
    return [
        "data=quickdraw",
        f"data.root={quickdraw_root}",
        "data.categories=[cat,smiley_face]",
        "data.progress=false",
        "n_samples=32",
        "batch_size=32",
        "metrics.feature_net_steps=10",
        "metrics.critic_steps=3",
        "metrics.kid_subsets=3",
        "metrics.swd_patches_per_image=2",
        "metrics.feature_spaces=[zoo]",
        "logger.mode=disabled",
        f"out={out}",
    ]


def fast(quickdraw_root: Path, model: str, steps: int = 4) -> list[str]:
    """Quick, Draw! doodles for every model but a colouriser, which gets a folder of colour images
    (written beside the doodles) and refuses grey data."""
    if MODELS.get(model).colourises:
        folder = quickdraw_root / "colour"
        if not folder.is_dir():
            write_colour_folder(quickdraw_root)
        data = [
            "data=folder",
            f"data.root={quickdraw_root}",
            "data.path=colour",
            "data.name=colour",
            "data.image_size=16",
        ]
    else:
        data = ["data=quickdraw", f"data.root={quickdraw_root}", "data.categories=[cat,smiley_face]"]
    return [
        f"model={model}",
        *data,
        "data.progress=false",
        f"trainer.max_steps={steps}",
        "trainer.batch_size=16",
        "trainer.log_every=2",
        "trainer.sample_every=2",
        "trainer.checkpoint_every=2",
        "trainer.n_samples=4",
        "trainer.max_minutes=null",
        "eval.n_test=20",
        "logger.mode=disabled",
        *TINY[model],
    ]


def data_name(model: str) -> str:
    return "colour" if MODELS.get(model).colourises else "quickdraw"


def only_run(tmp_path: Path, name: str) -> Path:
    runs = sorted((tmp_path / "runs" / name).iterdir())
    assert len(runs) == 1, runs
    return runs[0]
