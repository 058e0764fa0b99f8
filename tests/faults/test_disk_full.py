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
