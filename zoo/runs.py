"""Run folders: ``runs/<model>-<data>/<timestamp>/`` and which one a rerun continues.

Each run folder holds ``run.json`` (status, step, config fingerprint), ``config.yaml``,
``checkpoints/last.pt``, ``samples/``, ``recons/``, ``metrics.jsonl``, ``train.log`` and, when W&B
is on, ``wandb/``. With ``trainer.resume=auto`` a rerun of the same command continues the newest
unfinished run of the same model and data whose configuration fingerprint matches (model and
data options, seed, batch size); budgets, logging cadence and paths may differ.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from zoo.errors import ZooError
from zoo.files import atomic_write_text, exclusive_dir

log = logging.getLogger(__name__)

# data options that say where the data comes from, not what it is
DATA_LOCATION_KEYS = {"root", "download", "base_url", "progress"}


def fingerprint(config: dict[str, Any]) -> str:
    """A short hash of the options that define a run's training trajectory."""
    data = {k: v for k, v in config["data"].items() if k not in DATA_LOCATION_KEYS}
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


def read_eval(run_dir: Path) -> dict[str, Any]:
    """The run's final held-out figures (``eval.json``: test metrics, images seen, minutes), or
    nothing when the run has not finished or the file cannot be read."""
    try:
        return json.loads((Path(run_dir) / "eval.json").read_text())
    except (OSError, ValueError):
        return {}


def write_status(run_dir: Path, **fields: Any) -> None:
    status = (read_status(run_dir) or {}) | fields | {"updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_text(run_dir / "run.json", json.dumps(status, indent=2) + "\n", "run status")


def read_config(run_dir: Path) -> dict[str, Any]:
    """A run's ``config.yaml`` as plain containers; a missing or corrupt one is a ``ZooError``."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ZooError(
            f"{run_dir} is not a genzoo run folder (no config.yaml). Pass a folder under runs/<model>-<data>/."
        )
    try:
        config = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as e:  # yaml's and OmegaConf's errors have no common base
        raise ZooError(
            f"{path} cannot be read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "restore it from a copy or leave that run out."
        ) from None
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("model"), dict)
        or not isinstance(config.get("data"), dict)
    ):
        raise ZooError(
            f"{path} is not a genzoo run configuration (no model or data section); restore it or leave that run out."
        )
    return config


# -- one process per run ---------------------------------------------------------------------------
class RunLock:
    """An exclusive ``flock`` on the run folder itself: the run is written by this process alone.

    The kernel releases it when the process ends, however it ends (``kill -9`` included), so a
    lock is never stale; and since it is taken on the folder, not on a file in it, taking it
    changes nothing in the run."""

    def __init__(self, run_dir: Path, fd: int):
        self.run_dir, self._fd = Path(run_dir), fd

    @classmethod
    def try_acquire(cls, run_dir: Path) -> RunLock | None:
        """The lock, or None when another live process holds it."""
        try:
            fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise ZooError(f"cannot open the run folder {run_dir}: {e.strerror or e}.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(run_dir, fd)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


def new_run_dir(runs_dir: Path, model: str, data: str) -> tuple[Path, RunLock]:
    run_dir = exclusive_dir(Path(runs_dir) / f"{model}-{data}", what="run folder")
    lock = RunLock.try_acquire(run_dir)
    assert lock is not None, "a folder this process just created is locked by another"
    return run_dir, lock


def _resumable(run_dir: Path, fp: str | None) -> bool:
    status = read_status(run_dir)
    if not status or status.get("status") == "finished" or not (run_dir / "checkpoints" / "last.pt").is_file():
        return False
    return fp is None or status.get("fingerprint") == fp


def find_resumable(runs_dir: Path, model: str, data: str, fp: str) -> tuple[Path, RunLock] | None:
    """The newest unfinished run of this model and data with the same fingerprint and a
    checkpoint that no other process is training, locked for this one."""
    parent = Path(runs_dir) / f"{model}-{data}"
    if not parent.is_dir():
        return None
    for run_dir in sorted((p for p in parent.iterdir() if p.is_dir()), reverse=True):
        if not _resumable(run_dir, None):
            continue
        if not _resumable(run_dir, fp):
            log.info("not resuming %s: it was started with a different configuration", run_dir)
            continue
        lock = RunLock.try_acquire(run_dir)
        if lock is None:
            log.info("not resuming %s: another process is training it (a new run starts instead)", run_dir)
            continue
        if _resumable(run_dir, fp):  # still so, now that no one else can change it
            return run_dir, lock
        lock.release()
    return None


def discard_if_empty(run_dir: Path, runs_dir: Path, lock: RunLock | None = None) -> None:
    """Remove a run folder made for a run that was refused before writing anything (and its
    parents up to ``runs_dir``, when they are empty too)."""
    folder, stop = Path(run_dir), Path(runs_dir).parent
    if lock is not None:
        lock.release()
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def resolve_run(resume: str, runs_dir: Path, model: str, data: str, fp: str) -> tuple[Path, Path | None, RunLock]:
    """(run folder, checkpoint to resume from or None, this process's lock on the folder) for
    ``trainer.resume=auto|none|<path>``."""
    resume = str(resume)
    if resume in ("none", "auto"):
        found = find_resumable(runs_dir, model, data, fp) if resume == "auto" else None
        if found is None:
            run_dir, lock = new_run_dir(runs_dir, model, data)
            return run_dir, None, lock
        run_dir, lock = found
        return run_dir, run_dir / "checkpoints" / "last.pt", lock
    path = Path(resume).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise ZooError(
            f"trainer.resume={resume}: no checkpoint there. Use auto, none, a run folder or a checkpoint .pt file."
        )
    if path.parent.name == "checkpoints":
        run_dir = path.parent.parent
        lock = RunLock.try_acquire(run_dir)
        if lock is None:
            raise ZooError(
                f"trainer.resume={resume}: another process is training that run now. Wait for it to end, "
                "or start another run with trainer.resume=none."
            )
        return run_dir, path, lock
    run_dir, lock = new_run_dir(runs_dir, model, data)
    return run_dir, path, lock


# -- what a run was trained on -----------------------------------------------------------------------
def config_diff(
    theirs: dict[str, Any],
    ours: dict[str, Any],
    prefix: str,
    ignore: set[str] | frozenset[str] = frozenset(),
    labels: tuple[str, str] = ("run", "here"),
) -> list[str]:
    """``<prefix><key>: <label> <theirs>, <label> <ours>`` for every key where two option groups
    differ (the one helper behind the resume, checkpoint and compare checks)."""
    keys = sorted((set(theirs) | set(ours)) - set(ignore))
    a, b = labels
    return [f"{prefix}{k}: {a} {theirs.get(k)!r}, {b} {ours.get(k)!r}" for k in keys if theirs.get(k) != ours.get(k)]


def data_diff(
    run_config: dict[str, Any], data_options: dict[str, Any], labels: tuple[str, str] = ("run", "here")
) -> list[str]:
    """Where the data a run was trained on differs from ``data_options`` (its location aside)."""
    return config_diff(run_config.get("data", {}), data_options, "data.", DATA_LOCATION_KEYS, labels)


def finished_runs(runs_dir: Path, model: str, data: str) -> list[Path]:
    """Finished runs of ``model`` on the data named ``data`` that have a checkpoint, newest first."""
    parent = Path(runs_dir) / f"{model}-{data}"
    if not parent.is_dir():
        return []
    return [
        run_dir
        for run_dir in sorted((p for p in parent.iterdir() if p.is_dir()), reverse=True)
        if (read_status(run_dir) or {}).get("status") == "finished" and (run_dir / "checkpoints" / "last.pt").is_file()
    ]
