"""The disk fills up while a checkpoint or an image grid is being written: one clear error, the
previous checkpoint byte for byte intact, no partial file left behind."""

from __future__ import annotations

import errno
import hashlib
import io

import pytest
import torch

import zoo.images
from tests.test_trainer import make_trainer
from zoo.checkpoint import load_checkpoint
from zoo.errors import ZooError


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def disk_fills_after(n_bytes: int):
    """A ``torch.save`` that writes ``n_bytes`` of the file, then fails as a full disk does."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        f.write(buffer.getvalue()[:n_bytes])
        raise OSError(errno.ENOSPC, "No space left on device")

    return save


def test_checkpoint_write_on_a_full_disk(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, max_steps=4, checkpoint_every=2)
    trainer.cfg.max_steps = 2
    trainer.fit()  # a finished run at step 2 ...
    before = digest(trainer.checkpoint_path)
    trainer.cfg.max_steps = 4  # ... extended; the disk is full when step 4 is saved
    monkeypatch.setattr(torch, "save", disk_fills_after(5000))
    with pytest.raises(ZooError, match=r"could not write checkpoint .*last.pt: No space left on device; the previous"):
        trainer.fit()
    monkeypatch.undo()
    assert digest(trainer.checkpoint_path) == before
    assert load_checkpoint(trainer.checkpoint_path)["step"] == 2
    assert not list(trainer.checkpoint_path.parent.glob("*.tmp"))


def test_image_grid_write_on_a_full_disk(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, max_steps=4, checkpoint_every=2, sample_every=3)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zoo.images, "save_image", full)
    with pytest.raises(ZooError, match=r"could not write image grid .*step_3.png: No space left on device"):
        trainer.fit()
    assert load_checkpoint(trainer.checkpoint_path)["step"] == 2  # the checkpoint before it is intact
    assert not list((trainer.run_dir / "samples").glob("*.png"))


def test_a_full_disk_at_the_final_evaluation_leaves_no_empty_eval_json_and_a_true_status(tmp_path, monkeypatch):
    import json

    import zoo.files
    import zoo.trainer

    real = zoo.trainer.atomic_write_text

    def full_for_eval(path, text, what="file", fix="free some space and rerun."):
        if path.name == "eval.json":

            def no_space(tmp):
                tmp.write_bytes(b"")  # the file is created, then nothing fits
                raise OSError(errno.ENOSPC, "No space left on device")

            return zoo.files.atomic_write(path, no_space, what, fix)
        return real(path, text, what, fix)

    monkeypatch.setattr(zoo.trainer, "atomic_write_text", full_for_eval)
    trainer = make_trainer(tmp_path, max_steps=2, checkpoint_every=2)
    with pytest.raises(ZooError, match=r"could not write eval.json .*No space left on device"):
        trainer.fit()
    assert not (trainer.run_dir / "eval.json").exists()  # never a 0-byte file
    status = json.loads((trainer.run_dir / "run.json").read_text())
    assert status["status"] == "failed" and "No space left on device" in status["reason"]
    assert load_checkpoint(trainer.checkpoint_path)["step"] == 2  # rerun to evaluate once there is space
