"""compare's caches (feature networks, reference features) under ``runs/compare/cache``: a file
that does not load, or that is another cache's file under this name, is computed again with a
warning, never a traceback, and the recomputed file is the one read next time."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch

from zoo.checkpoint import cached


class Payload:
    """A pickled object of a class: code that ``weights_only=True`` loading refuses to run."""


def damage(path, how: str, tmp_path) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "another cache's file":
        other = tmp_path / "reference-other.pt"
        cached(other, lambda: {"features": torch.zeros(2)})
        shutil.copyfile(other, path)
    elif how == "code":
        torch.save({"features": Payload()}, path)


@pytest.mark.parametrize("how", ["truncated", "empty", "another cache's file", "code"])
def test_a_cache_file_that_does_not_load_is_computed_again_with_a_warning(how, tmp_path, caplog):
    path = tmp_path / "reference-zoo-data1234-n100-seed0.pt"
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"features": torch.arange(4.0)}

    assert cached(path, compute)[1] is False
    state, hit = cached(path, compute)
    assert hit and len(calls) == 1 and torch.equal(state["features"], torch.arange(4.0))

    damage(path, how, tmp_path)
    with caplog.at_level(logging.WARNING, logger="zoo.checkpoint"):
        state, hit = cached(path, compute)
    assert not hit and len(calls) == 2 and torch.equal(state["features"], torch.arange(4.0))
    assert f"cache file {path}" in caplog.text and "computing it again" in caplog.text
    assert "weights_only=False" not in caplog.text  # torch's advice to run the file's code is never passed on
    assert cached(path, compute)[1] is True and len(calls) == 2, "the recomputed file is read next time"
