"""Checkpoints written atomically and read with ``weights_only=True``.

A checkpoint is written to ``<name>.tmp`` in the same folder, flushed to disk, then renamed over
the old file, so a crash (even ``kill -9``) or a full disk mid-write leaves the previous checkpoint
intact (a failed write is one clear ``ZooError``, the partial file removed). Loading
uses ``torch.load(weights_only=True)``: tensors and plain containers only, never code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # disk full, quota, read-only or vanished folder
        tmp.unlink(missing_ok=True)
        before = "the previous checkpoint there is intact" if path.exists() else "no checkpoint was there before"
        raise ZooError(
            f"could not write checkpoint {path}: {e.strerror or e}; {before}. "
            "Free some space (or fix the folder) and rerun the same command to resume."
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"checkpoint {path} does not exist. Pass trainer.resume=auto, none, or the path of a .pt file.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ZooError(
            f"refused to load {path}: it holds Python objects other than tensors and plain containers "
            f"(weights_only=True loading; {str(e).splitlines()[0]}). Only load checkpoints genzoo wrote."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise ZooError(
            f"cannot read checkpoint {path}: {str(e).splitlines()[0]}. It may be truncated; "
            "use another checkpoint or start over with trainer.resume=none."
        ) from None
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise ZooError(f"{path} is not a genzoo checkpoint (no model weights or step in it).")
    return state
