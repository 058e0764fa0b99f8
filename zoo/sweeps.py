"""Sweeps over the zoo (``python train.py -m ... hydra/launcher=local|slurm``): what is checked
before any job is submitted, and the sweep a job belongs to (its W&B tag).

Hydra composes the whole sweep before its launcher submits a job, so a launcher that cannot run
genzoo's processes is refused then, with one line and exit code 2: ``tasks_per_node`` must equal
``gpus_per_node`` on GPUs (one process per GPU: DDP inside each job, ``zoo/distributed.py``), and
the global batch size must split over each job's processes. Everything else about a job's options
is checked by the job itself, at its start, as for a single run.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def launcher_problem(launcher: dict[str, Any], batch_size: int) -> str | None:
    """Why a launcher's settings cannot run genzoo's jobs, or None."""
    tasks, nodes, gpus = launcher.get("tasks_per_node") or 1, launcher.get("nodes") or 1, launcher.get("gpus_per_node")
    if gpus and tasks != gpus:
        return (
            f"hydra.launcher.tasks_per_node={tasks} but gpus_per_node={gpus}: genzoo runs one process per GPU, "
            f"so set hydra.launcher.tasks_per_node={gpus}"
        )
    world = tasks * nodes
    if batch_size % world:
        return (
            f"trainer.batch_size={batch_size} does not split over the {world} processes of each job "
            f"(nodes {nodes} x tasks_per_node {tasks}); the batch size is global: use a multiple of {world}"
        )
    return None


class LauncherCheck(Callback):
    """Registered in ``conf/config.yaml`` (``hydra.callbacks``): runs once before a sweep starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        launcher = config.hydra.get("launcher") or {}
        problem = launcher_problem(dict(launcher), int(config.trainer.batch_size))
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            raise SystemExit(2)


def sweep_id() -> str | None:
    """The sweep this process runs a job of (its folder's name under ``runs_dir/multirun``), or None."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except (ImportError, ValueError):  # not started by Hydra's main (zoo.app.cli, the tests)
        return None
    return Path(hydra.sweep.dir).name if hydra.mode == RunMode.MULTIRUN else None


def discard_refused_job() -> None:
    """A sweep job refused at its start leaves no folder behind: its own (always empty: genzoo writes
    its runs elsewhere) and, when it was the sweep's first job, the sweep's folder with Hydra's
    ``multirun.yaml`` if nothing else is in it (the sweep ends there: no job has run)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except (ImportError, ValueError):  # not started by Hydra's main
        return
    if hydra.mode != RunMode.MULTIRUN:
        return
    sweep_dir = Path(hydra.sweep.dir)
    with contextlib.suppress(OSError):  # only an empty folder is removed
        Path(hydra.runtime.output_dir).rmdir()
    if hydra.job.num != 0 or not sweep_dir.is_dir():
        return
    if {p.name for p in sweep_dir.iterdir()} <= {"multirun.yaml"}:
        (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
        for folder in (sweep_dir, sweep_dir.parent):  # <runs_dir>/multirun/<time>, then multirun/ if empty
            with contextlib.suppress(OSError):
                folder.rmdir()
