"""Hostile or broken inputs to ``python train.py``: each gets one clear message naming the
problem and the fix, a non-zero exit, no traceback, and nothing that existed before is changed."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import TINY, fast, run_train


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its hash: what must survive a refused run."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def refused(result, message: str) -> None:
    """genzoo's refusal: one line that says what is wrong (the last of stderr), exit code 2, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert message in last, last


def refused_by_hydra(result, *words: str) -> None:
    """Hydra's own message for a bad command line (exit code 1): what it could not find, the
    choices, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert all(word in result.stderr for word in words), result.stderr


@pytest.fixture(scope="module")
def trained(quickdraw_root_module, tmp_path_factory) -> Path:
    """A finished DCGAN run to be protected (and its checkpoint to be misused)."""
    home = tmp_path_factory.mktemp("trained")
    assert run_train(*fast(quickdraw_root_module, "dcgan"), cwd=home).returncode == 0
    return next((home / "runs").glob("dcgan-quickdraw/*"))


class Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# -- checkpoints -------------------------------------------------------------------------------
def test_a_checkpoint_carrying_code_is_refused_and_its_code_never_runs(quickdraw_root, trained, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": Payload(marker), "step": 0}))
    before = digests(trained)
    result = run_train(*fast(quickdraw_root, "dcgan"), f"trainer.resume={evil}", cwd=tmp_path)
    refused(result, "refused to load")
    assert "weights_only=True" in result.stderr
    assert not marker.exists()
    assert digests(trained) == before
    assert not (tmp_path / "runs").exists()


def test_a_truncated_checkpoint(quickdraw_root, trained, tmp_path):
    copy = tmp_path / "cut.pt"
    copy.write_bytes((trained / "checkpoints" / "last.pt").read_bytes()[:3000])
    before = digests(trained)
    refused(run_train(*fast(quickdraw_root, "dcgan"), f"trainer.resume={copy}", cwd=tmp_path), "truncated")
    assert digests(trained) == before
    assert not (tmp_path / "runs").exists()


def test_a_checkpoint_of_another_model(quickdraw_root, trained, tmp_path):
    checkpoint = trained / "checkpoints" / "last.pt"
    before = digests(trained)
    result = run_train(*fast(quickdraw_root, "vae"), f"trainer.resume={checkpoint}", cwd=tmp_path)
    refused(result, "is a 'dcgan' checkpoint, not 'vae'")
    assert digests(trained) == before
    assert not (tmp_path / "runs").exists()


def test_a_checkpoint_of_another_configuration_names_the_difference(quickdraw_root, trained, tmp_path):
    before = digests(trained)
    result = run_train(*fast(quickdraw_root, "dcgan"), "model.width=8", f"trainer.resume={trained}", cwd=tmp_path)
    refused(result, "model.width: checkpoint 4, now 8")
    assert digests(trained) == before
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("override", "named"),
    [("seed=1", "seed: checkpoint 0, now 1"), ("trainer.batch_size=8", "trainer.batch_size: checkpoint 16, now 8")],
)
def test_resuming_with_another_seed_or_batch_size_is_refused_and_the_record_kept(
    quickdraw_root, trained, tmp_path, override, named
):
    before = digests(trained)
    args = [a for a in fast(quickdraw_root, "dcgan") if not a.startswith(override.split("=")[0] + "=")]
    result = run_train(*args, override, f"trainer.resume={trained}", cwd=tmp_path)
    refused(result, named)
    assert "trainer.resume=none" in result.stderr
    assert digests(trained) == before  # config.yaml and run.json still tell the run's first steps
    assert not (tmp_path / "runs").exists()


# -- data --------------------------------------------------------------------------------------
def test_a_truncated_npy_file(quickdraw_root, tmp_path):
    path = quickdraw_root / "quickdraw" / "cat.npy"
    path.write_bytes(path.read_bytes()[:50_000])
    before = digests(quickdraw_root)
    refused(run_train(*fast(quickdraw_root, "dcgan"), cwd=tmp_path), "cat.npy")
    assert digests(quickdraw_root) == before  # the bad file is named, not deleted behind the user's back
    assert not (tmp_path / "runs").exists()


def test_an_npy_file_of_the_wrong_shape(quickdraw_root, tmp_path):
    np.save(quickdraw_root / "quickdraw" / "cat.npy", np.zeros((10, 30, 30), np.uint8))
    refused(run_train(*fast(quickdraw_root, "dcgan"), cwd=tmp_path), "cat.npy")
    assert not (tmp_path / "runs").exists()


def test_a_file_that_is_not_an_image_in_an_image_folder(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    from PIL import Image

    for i in range(4):
        Image.new("RGB", (20, 20), (i * 60, 0, 0)).save(folder / f"{i}.png")
    (folder / "notes.png").write_text("this is not a picture")
    args = ["data=folder", f"data.root={tmp_path}", "data.path=pictures", "logger.mode=disabled"]
    refused(run_train(*args, cwd=tmp_path), "notes.png")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_folder_of_grey_photos_is_refused_by_a_colouriser_by_its_pixels(tmp_path, mode):
    """Grey files (mode L) and grey pixels saved as RGB both load as three equal channels."""
    from PIL import Image

    folder = tmp_path / "grey"
    folder.mkdir()
    for i in range(40):
        Image.new(mode, (16, 16), i * 6 if mode == "L" else (i * 6,) * 3).save(folder / f"{i}.png")
    args = ["model=cinn", "data=folder", f"data.root={tmp_path}", "data.path=grey", "data.image_size=16"]
    refused(run_train(*args, "logger.mode=disabled", *TINY["cinn"], cwd=tmp_path), "is grey (R = G = B)")
    assert not (tmp_path / "runs").exists()


def test_a_missing_image_folder(tmp_path):
    args = ["data=folder", "data.path=nowhere", f"data.root={tmp_path}", "logger.mode=disabled"]
    refused(run_train(*args, cwd=tmp_path), "error: image folder")
    assert not (tmp_path / "runs").exists()


# -- configuration -----------------------------------------------------------------------------
def test_a_config_key_that_does_not_exist_is_hydras_one_message(tmp_path):
    refused_by_hydra(
        run_train("trainer.max_stepz=3", cwd=tmp_path, process=True), "Could not override 'trainer.max_stepz'"
    )


def test_an_unknown_model_lists_the_available_ones(tmp_path):
    refused_by_hydra(run_train("model=glowww", cwd=tmp_path), "Could not find 'model/glowww'", "dcgan", "alae")


def test_an_unknown_data_name(tmp_path):
    refused_by_hydra(run_train("data=imagenet", cwd=tmp_path), "Could not find 'data/imagenet'", "quickdraw")


def test_a_model_option_that_does_not_exist_names_the_valid_ones(quickdraw_root, tmp_path):
    refused(
        run_train(*fast(quickdraw_root, "dcgan"), "+model.depth=3", cwd=tmp_path),
        "unknown option model.depth; the options of model are betas, latent_dim, lr, width",
    )


@pytest.mark.parametrize("change", ["replaced", "one more"])
def test_resuming_on_a_folder_whose_pictures_changed_is_refused(tmp_path, change):
    """The data options (the folder's path) are the same; the pixels are not."""
    from PIL import Image

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(40):
        Image.new("RGB", (16, 16), (i * 6, 100, 255 - i * 6)).save(folder / f"{i:02d}.png")
    data = ["data=folder", f"data.root={tmp_path}", "data.path=pictures", "data.image_size=16", "data.progress=false"]
    common = [*data, "model=dcgan", *TINY["dcgan"], "trainer.batch_size=8", "logger.mode=disabled", "eval.n_test=4"]
    assert run_train(*common, "trainer.max_steps=2", cwd=tmp_path).returncode == 0
    [run] = (tmp_path / "runs" / "dcgan-folder").iterdir()
    if change == "replaced":  # as many pictures, other colours
        for i in range(40):
            Image.new("RGB", (16, 16), (255 - i * 6, 0, i * 6)).save(folder / f"{i:02d}.png")
    else:
        Image.new("RGB", (16, 16), (1, 2, 3)).save(folder / "40.png")
    before = digests(run)
    result = run_train(*common, "trainer.max_steps=4", f"trainer.resume={run}", cwd=tmp_path)
    refused(result, "was trained on other images with the same data options")
    assert ("other pixels or labels" if change == "replaced" else "then,") in result.stderr
    assert digests(run) == before


def test_resuming_a_run_with_other_data_is_refused_naming_the_difference(quickdraw_root, trained, tmp_path):
    before = digests(trained)
    args = [
        a.replace("data.categories=[cat,smiley_face]", "data.categories=[cat]") for a in fast(quickdraw_root, "dcgan")
    ]
    result = run_train(*args, f"trainer.resume={trained}", cwd=tmp_path)
    refused(result, "was trained on other data (data.categories: checkpoint ['cat', 'smiley_face'], now ['cat'])")
    assert digests(trained) == before  # neither config.yaml nor run.json rewritten
    assert not (tmp_path / "runs").exists()


def test_a_file_that_is_not_a_checkpoint_is_named_as_such(quickdraw_root, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my training notes")
    result = run_train(*fast(quickdraw_root, "dcgan"), f"trainer.resume={notes}", cwd=tmp_path)
    refused(result, "not a checkpoint at all")
    assert "weights_only=False" not in result.stderr  # never the advice that would run a file's code
    assert notes.read_text() == "my training notes"
    assert not (tmp_path / "runs").exists()


def test_a_runs_folder_that_cannot_be_created_is_one_message(quickdraw_root, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("runs_dir points below this file")
    result = run_train(*fast(quickdraw_root, "dcgan"), f"runs_dir={blocker / 'runs'}", cwd=tmp_path)
    refused(result, "cannot create a run folder under")
    assert blocker.read_text() == "runs_dir points below this file"


def test_a_precision_the_device_cannot_do_is_refused_before_a_folder_exists(quickdraw_root, tmp_path):
    refused(run_train(*fast(quickdraw_root, "dcgan"), "trainer.precision=fp16", cwd=tmp_path), "needs a CUDA device")
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_a_device_this_machine_lacks_is_refused_before_a_folder_exists(quickdraw_root, tmp_path):
    refused(
        run_train(*fast(quickdraw_root, "dcgan"), "trainer.device=mps", cwd=tmp_path), "MPS backend is not available"
    )
    assert not (tmp_path / "runs").exists()


def test_a_model_too_wide_for_this_machines_memory_is_refused_with_the_figure(quickdraw_root, tmp_path):
    args = [a for a in fast(quickdraw_root, "dcgan") if not a.startswith("model.width=")]
    result = run_train(*args, "model.width=8192", cwd=tmp_path)  # about 86 GB of weights, gradients and moments
    refused(result, "model=dcgan with these options needs at least")
    assert "choose smaller model widths" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_data_set_too_large_to_decode_in_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    import zoo.memory

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(40):
        Image.new("RGB", (20, 20), (i * 6, 0, 0)).save(folder / f"{i}.png")
    monkeypatch.setattr(zoo.memory, "available_bytes", lambda: 10 * 2**20)  # a machine with 10 MB free
    args = ["data=folder", f"data.root={tmp_path}", "data.path=pictures", "data.image_size=256", "logger.mode=disabled"]
    refused(
        run_train(*args, cwd=tmp_path),
        "decoding 40 images at 256x256 needs at least 15 MB of memory, and this machine has 10 MB",
    )
    assert not (tmp_path / "runs").exists()


def test_a_batch_larger_than_the_data_is_refused_before_a_folder_exists(quickdraw_root, tmp_path):
    args = [a.replace("trainer.batch_size=16", "trainer.batch_size=5000") for a in fast(quickdraw_root, "dcgan")]
    refused(run_train(*args, cwd=tmp_path), "fewer than the batch size 5000")
    assert not (tmp_path / "runs").exists()
