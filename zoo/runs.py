"""Run folders: ``runs/<model>-<data>/<timestamp>/`` and which one a rerun continues.

Each run folder holds ``run.json`` (status, step, config fingerprint), ``config.yaml``,
``checkpoints/last.pt``, ``samples/``, ``recons/``, ``metrics.jsonl``, ``train.log`` and, when W&B
is on, ``wandb/``. With ``trainer.resume=auto`` a rerun of the same command continues the newest
unfinished run of the same model and data whose configuration fingerprint matches (model and
data options, seed, batch size); budgets, logging cadence and paths may differ.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

log = logging.getLogger(__name__)

# data options that say where the data comes from, not what it is
_DATA_LOCATION_KEYS = {"root", "download", "base_url", "progress"}


def fingerprint(config: dict[str, Any]) -> str:
    """A short hash of the options that define a run's training trajectory."""
    data = {k: v for k, v in config["data"].items() if k not in _DATA_LOCATION_KEYS}
    key = {
        "model": config["model"],
        "data": data,
        "seed": config["seed"],
        "batch_size": config["trainer"]["batch_size"],
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_status(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return None


def write_status(run_dir: Path, **fields: Any) -> None:
    status = (read_status(run_dir) or {}) | fields | {"updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
    tmp = run_dir / "run.json.tmp"
    tmp.write_text(json.dumps(status, indent=2) + "\n")
    os.replace(tmp, run_dir / "run.json")


def new_run_dir(runs_dir: Path, model: str, data: str) -> Path:
    parent = Path(runs_dir) / f"{model}-{data}"
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    for n in range(1000):
        candidate = parent / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise ZooError(f"cannot create a new run folder under {parent}")


def find_resumable(runs_dir: Path, model: str, data: str, fp: str) -> Path | None:
    """The newest unfinished run of this model and data with the same fingerprint and a checkpoint."""
    parent = Path(runs_dir) / f"{model}-{data}"
    if not parent.is_dir():
        return None
    for run_dir in sorted((p for p in parent.iterdir() if p.is_dir()), reverse=True):
        status = read_status(run_dir)
        if not status or status.get("status") == "finished" or not (run_dir / "checkpoints" / "last.pt").is_file():
            continue
        if status.get("fingerprint") == fp:
            return run_dir
        log.info("not resuming %s: it was started with a different configuration", run_dir)
    return None


def discard_if_empty(run_dir: Path, runs_dir: Path) -> None:
    """Remove a run folder made for a run that was refused before writing anything (and its
    parents up to ``runs_dir``, when they are empty too)."""
    folder, stop = Path(run_dir), Path(runs_dir).parent
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def resolve_run(resume: str, runs_dir: Path, model: str, data: str, fp: str) -> tuple[Path, Path | None]:
    """(run folder, checkpoint to resume from or None) for ``trainer.resume=auto|none|<path>``."""
    resume = str(resume)
    if resume == "none":
        return new_run_dir(runs_dir, model, data), None
    if resume == "auto":
        found = find_resumable(runs_dir, model, data, fp)
        if found is None:
            return new_run_dir(runs_dir, model, data), None
        return found, found / "checkpoints" / "last.pt"
    path = Path(resume).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise ZooError(
            f"trainer.resume={resume}: no checkpoint there. Use auto, none, a run folder or a checkpoint .pt file."
        )
    if path.parent.name == "checkpoints":
        return path.parent.parent, path
    return new_run_dir(runs_dir, model, data), path
