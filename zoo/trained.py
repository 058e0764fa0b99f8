"""Loading a finished (or interrupted) run back: its configuration, data and weights.

Shared by ``zoo.morph`` and ``compare.py``: everything comes from the run folder (``config.yaml``
and ``checkpoints/last.pt``), so a run trained months ago loads without the command that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zoo.build import build
from zoo.checkpoint import load_checkpoint
from zoo.data.base import DataBundle
from zoo.ema import EMA
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.runs import read_config


@dataclass
class TrainedRun:
    run_dir: Path
    model: GenerativeModel  # in eval mode, EMA weights swapped in when the run kept them
    data: DataBundle
    config: dict[str, Any]
    step: int
    uses_ema: bool


def load_trained(
    run_dir: str | Path,
    checkpoint: str | Path | None = None,
    data_root: str | None = None,
    device: str | torch.device = "cpu",
) -> TrainedRun:
    """The model of ``run_dir`` with its newest checkpoint (or ``checkpoint``), and its data.

    ``data_root`` replaces the data root recorded in the run (data moved, another machine)."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    config_path = run_dir / "config.yaml"
    checkpoint = Path(checkpoint) if checkpoint else run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(checkpoint)
    name = config["model"].get("name")
    if state.get("model_name") not in (None, name):
        raise ZooError(f"{checkpoint} holds a '{state.get('model_name')}' model but {config_path} says '{name}'.")
    data, model = build(config, data_root)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ZooError(f"{checkpoint} does not fit the model in {config_path}: {str(e).splitlines()[0]}") from None
    uses_ema = bool(state.get("ema")) and bool(model.ema_modules)
    if uses_ema:
        decay = config.get("trainer", {}).get("ema_decay") or 0.999
        ema = EMA(model, model.ema_modules, decay)
        ema.load_state_dict(state["ema"])
        model.load_state_dict(ema.shadow, strict=False)
    model.to(device).eval()
    return TrainedRun(run_dir, model, data, config, int(state["step"]), uses_ema)
