"""Checkpoints written atomically and read with ``weights_only=True``.

A checkpoint is written to a temporary file of its writer's own in the same folder
(``zoo.files``), flushed to disk, then renamed over the old file, so a crash (even ``kill -9``) or a full disk mid-write leaves the previous checkpoint
intact (a failed write is one clear ``ZooError``, the partial file removed). Loading
uses ``torch.load(weights_only=True)``: tensors and plain containers only, never code.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.files import write_with

log = logging.getLogger("zoo.checkpoint")
CACHE_STAMP = "cache_name"  # a cache file's own name, stored in it


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    path = Path(path)
    before = "the previous checkpoint there is intact" if path.exists() else "no checkpoint was there before"
    write_with(
        path,
        lambda f: torch.save(state, f),
        "checkpoint",
        f"{before}. Free some space (or fix the folder) and rerun the same command to resume.",
        durable=True,
    )


def cached(path: Path, compute: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """The tensors stored at ``path`` (read with ``weights_only=True``), or ``compute()``'s, written
    there atomically first; and whether the file was there. The one cache of compare's feature
    networks and reference features: its key is the file's name, stamped inside the file, so a
    file that does not load (truncated, empty, carrying code) or belongs to another name is
    recomputed with a warning instead of stopping the comparison."""
    path = Path(path)
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
            problem = f"it does not load ({_first_line(e)})"
        else:
            if isinstance(state, dict) and state.get(CACHE_STAMP) == path.name:
                return state, True
            problem = "it is not the cache file of that name"
        log.warning("cache file %s: %s; computing it again", path, problem)
    state = {**compute(), CACHE_STAMP: path.name}
    save_checkpoint(state, path)
    return state, False


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"checkpoint {path} does not exist. Pass trainer.resume=auto, none, or the path of a .pt file.")
    if not _looks_like_torch_file(path):
        raise ZooError(
            f"cannot read checkpoint {path}: it is neither the zip archive torch.save writes nor a pickle, so it is "
            "truncated or not a checkpoint at all. Pass a checkpoints/last.pt that genzoo wrote, or trainer.resume=none."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ZooError(
            f"refused to load {path}: it holds Python objects other than tensors and plain containers "
            f"(weights_only=True loading; {_first_line(e)}). Only load checkpoints genzoo wrote."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise ZooError(
            f"cannot read checkpoint {path}: {_first_line(e)}. It may be truncated; "
            "use another checkpoint or start over with trainer.resume=none."
        ) from None
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise ZooError(f"{path} is not a genzoo checkpoint (no model weights or step in it).")
    return state


def _looks_like_torch_file(path: Path) -> bool:
    """A zip archive (torch.save) or a pickle stream (torch's legacy format, refused later when it
    carries code); a text file, an image or a truncated archive is neither."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"  # the PROTO opcode every pickle since protocol 2 starts with


def _first_line(error: Exception) -> str:
    """The first line of torch's message, without its advice to load with weights_only=False
    (which would run whatever code the file carries)."""
    line = str(error).splitlines()[0] if str(error) else type(error).__name__
    return line.split(" Re-running `torch.load` with `weights_only`")[0].split("weights_only=False")[0].rstrip(" ,(")
