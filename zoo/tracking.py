"""Weights & Biases logging, offline-first.

``logger.mode``:
- ``auto`` (default): ``WANDB_MODE`` when set; else online when W&B credentials are present
  (``WANDB_API_KEY`` or a ``wandb login``), otherwise offline, said once. Offline runs live in ``<run dir>/wandb/`` and are
  uploaded later with ``wandb sync <run dir>/wandb/offline-run-*``.
- ``online``, ``offline``, ``disabled``. An online start that fails (no key, no network within
  ``logger.online_timeout_s``, a server error) logs offline instead, said once: training never waits on W&B.

Runs are grouped by data set and tagged with the model, so one project dashboard compares the
families on the same data. Every metric is plotted against ``trainer/step`` (not W&B's own
step counter), which keeps a resumed run's curves continuous.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

MODES = ("auto", "online", "offline", "disabled")


def has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_mode(mode: str) -> str:
    from zoo.errors import ZooError

    if mode not in MODES:
        raise ZooError(f"logger.mode must be one of {', '.join(MODES)}; got '{mode}'")
    if mode == "auto":
        env = os.environ.get("WANDB_MODE", "")
        if env in ("online", "offline", "disabled"):
            return env
        return "online" if has_credentials() else "offline"
    return mode


class Tracker:
    """Thin wrapper over a W&B run; with ``mode=disabled`` every call is a no-op."""

    def __init__(
        self,
        mode: str,
        project: str,
        run_dir: Path,
        name: str,
        group: str,
        tags: list[str],
        config: dict[str, Any],
        run_id: str | None = None,
        online_timeout_s: float = 30.0,
    ):
        self.mode = resolve_mode(mode)
        self.run = None
        self.run_id = run_id
        if self.mode == "disabled":
            return
        import wandb

        if mode == "auto" and self.mode == "offline":
            log.info(
                "W&B: no credentials found, logging offline to %s/wandb (no account needed; "
                "upload later with `wandb sync %s/wandb/offline-run-*`).",
                run_dir,
                run_dir,
            )

        def start(mode: str):
            return wandb.init(
                project=project,
                dir=str(run_dir),
                name=name,
                group=group,
                tags=tags,
                config=config,
                id=run_id,
                resume="allow" if run_id else None,
                mode=mode,
                settings=wandb.Settings(quiet=True, console="off", init_timeout=online_timeout_s),
            )

        try:
            self.run = start(self.mode)
        except Exception as e:  # no key, no network, a server error: training must not depend on W&B
            if self.mode != "online":
                raise
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log.warning(
                "W&B could not start online (%s); logging offline to %s/wandb instead "
                "(upload later with `wandb sync %s/wandb/offline-run-*`).",
                reason[:200],
                run_dir,
                run_dir,
            )
            self.mode = "offline"
            self.run = start("offline")
        self.run_id = self.run.id
        self.run.define_metric("trainer/step")
        self.run.define_metric("*", step_metric="trainer/step")

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.run is not None:
            self.run.log({"trainer/step": step, **metrics})

    def log_images(self, images: dict[str, Path | torch.Tensor], step: int) -> None:
        if self.run is None:
            return
        import wandb

        self.run.log(
            {"trainer/step": step, **{k: wandb.Image(str(v) if isinstance(v, Path) else v) for k, v in images.items()}}
        )

    def log_table(self, name: str, columns: list[str], rows: list[list[str]]) -> None:
        if self.run is not None:
            import wandb

            self.run.log({name: wandb.Table(columns=columns, data=rows)})

    def summary(self, values: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.summary.update(values)

    def finish(self, exit_code: int = 0) -> None:
        if self.run is not None:
            self.run.finish(exit_code=exit_code)
            self.run = None
