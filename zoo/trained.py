"""Loading a finished (or interrupted) run back: its configuration, data and weights.

Shared by ``zoo.morph`` and ``compare.py``: everything comes from the run folder (``config.yaml``
and ``checkpoints/last.pt``), so a run trained months ago loads without the command that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from zoo.app import build_model
from zoo.checkpoint import load_checkpoint
from zoo.data import build_data
from zoo.data.base import DataBundle
from zoo.ema import EMA
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel


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
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ZooError(
            f"{run_dir} is not a genzoo run folder (no config.yaml). Pass a folder under runs/<model>-<data>/."
        )
    checkpoint = Path(checkpoint) if checkpoint else run_dir / "checkpoints" / "last.pt"
    config: dict[str, Any] = OmegaConf.to_container(OmegaConf.load(config_path), resolve=True)  # type: ignore[assignment]
    state = load_checkpoint(checkpoint)

    data_options = dict(config["data"])
    if data_root is not None:
        data_options["root"] = data_root
    source = data_options.pop("source")
    data = build_data(source, **data_options)

    model_options = dict(config["model"])
    name = model_options.pop("name")
    if state.get("model_name") not in (None, name):
        raise ZooError(f"{checkpoint} holds a '{state.get('model_name')}' model but {config_path} says '{name}'.")
    model = build_model(name, data.info, model_options)
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
