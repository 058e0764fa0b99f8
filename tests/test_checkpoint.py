"""Checkpoints: written atomically, loaded with weights_only=True, bad files refused clearly."""

import os
import pickle

import pytest
import torch

from zoo.checkpoint import load_checkpoint, save_checkpoint
from zoo.errors import ZooError


def test_round_trip(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    state = {"model": {"w": torch.arange(3.0)}, "step": 7, "rng": {"python": (3, tuple(range(5)), None)}}
    save_checkpoint(state, path)
    loaded = load_checkpoint(path)
    assert loaded["step"] == 7 and torch.equal(loaded["model"]["w"], torch.arange(3.0))
    assert not list(path.parent.glob("*.tmp"))


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {}, "step": 1}, path)

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(ZooError, match=r"could not write checkpoint .*last.pt: No space left on device; the previous"):
        save_checkpoint({"model": {}, "step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert not list(tmp_path.glob("*.tmp"))


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_checkpoint_carrying_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"model": Payload(), "step": 0}, f)
    with pytest.raises(ZooError, match=r"refused to load .*evil.pt.*weights_only=True"):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.zeros(10000)}, "step": 1}, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ZooError, match=r"cannot read checkpoint .*last.pt.*truncated"):
        load_checkpoint(path)


def test_a_tensor_file_that_is_not_a_genzoo_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ZooError, match=r"not a genzoo checkpoint"):
        load_checkpoint(path)
