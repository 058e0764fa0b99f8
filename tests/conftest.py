"""Shared fixtures: tiny generated data, real doodles (always), the real data folder (when ZOO_DATA_DIR is set), and the
session's tiny trained runs. Helpers live in ``tests/helpers.py``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import doodles, fast, only_run, run_train, write_colour_folder, write_quickdraw
from zoo.memory import reuse_freed_memory

if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one torch thread each
    import torch

    torch.set_num_threads(1)

reuse_freed_memory()  # as compare.py does: in-process Inception and sampling passes fault no pages in again


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


@pytest.fixture(scope="session")
def real_doodles():
    """Real Quick, Draw! doodles, ten categories: the official-format files in ``ZOO_DATA_DIR``
    when it is set (CI), else the subset inside the package, so that a fresh clone's test run
    exercises real doodles too instead of skipping."""
    from zoo.data import build_data
    from zoo.data.embed_quickdraw import CATEGORIES

    path = os.environ.get("ZOO_DATA_DIR")
    if path and (Path(path) / "quickdraw").is_dir():
        options = dict(root=path, download=False, progress=False, max_per_category=2000)
        return build_data("quickdraw", name="quickdraw", categories=list(CATEGORIES), **options)
    return build_data("quickdraw_mini", name="quickdraw_mini", categories=list(CATEGORIES))


@pytest.fixture
def quickdraw_root(tmp_path: Path) -> Path:
    return write_quickdraw(tmp_path)


@pytest.fixture(scope="module")
def quickdraw_root_module(tmp_path_factory) -> Path:
    """The same, shared by the tests of one module (for fixtures that train once)."""
    return write_quickdraw(tmp_path_factory.mktemp("quickdraw"))


@pytest.fixture(scope="session")
def colourisers(tmp_path_factory) -> tuple[Path, Path]:
    """A working folder with a tiny cINN and a tiny regression baseline trained (6 steps each,
    through train.py) on a folder of colour squares, and the data root: for the tests of
    ``compare.py task=colourise`` and ``zoo.colourise``."""
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
    base = tmp_path_factory.mktemp("morph")
    folder = base / "data" / "quickdraw"
    folder.mkdir(parents=True)
    np.save(folder / "cat.npy", doodles(300, 0))
    np.save(folder / "smiley_face.npy", doodles(200, 1))
    runs = {}
    for model in ("alpha_gan", "vae", "glow", "dcgan", "alae", "flow_matching"):
        result = run_train(*fast(base / "data", model), cwd=base)
        assert result.returncode == 0, result.stderr
        runs[model] = only_run(base, f"{model}-quickdraw")
    return runs
