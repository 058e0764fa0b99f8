"""Loading a trained model back: from a run folder, one of its checkpoints, or an exported folder.

``zoo.load(path)`` is the public door: a ready model (EMA weights where the run kept them, eval
mode) without opening the data set. A checkpoint describes its model (``zoo.artefact.describe``),
so the data is decoded only when a caller asks for held-out images (``TrainedRun.data``, e.g. a
test index in ``zoo.morph``). Checkpoints written before that description existed still load: the
data set is then read once to learn its image size and classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from zoo import artefact
from zoo.build import build_model, check_model_options, split_group
from zoo.checkpoint import load_checkpoint
from zoo.data import build_data
from zoo.data.base import DataBundle, DataInfo
from zoo.ema import EMA
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.registry import MODELS
from zoo.runs import read_config


@dataclass
class TrainedRun:
    run_dir: Path  # the run folder, or the exported folder
    model: GenerativeModel  # in eval mode, EMA weights swapped in when the run kept them
    config: dict[str, Any]  # the run's configuration (an export's: its family, options and data)
    step: int
    uses_ema: bool
    exported: bool = False
    data_root: str | None = None
    # the checkpoint's record of its training: images_seen, elapsed_s, hardware, finished, schedule
    record: dict[str, Any] = field(default_factory=dict)
    _data: DataBundle | None = field(default=None, repr=False)

    @property
    def data(self) -> DataBundle:
        """The run's data set, decoded on first use (sampling, or reconstructing a given picture,
        never needs it). ``data_root`` replaces the recorded root (data moved, another machine)."""
        if self._data is None:
            if self.exported and self.data_root is None:
                raise ZooError(
                    f"{self.run_dir} is an exported model: it carries no data set. Pass a picture file "
                    "instead of a test index, or data_root=<the folder that holds its data>"
                )
            self._data = _build_data(self.config, self.data_root)
        return self._data


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """The trained model at ``path`` (a run folder, a checkpoint file, or a folder ``python -m
    zoo.export`` wrote), ready to sample: EMA weights where the run kept them, eval mode, on
    ``device``. The data set is not opened."""
    return load_trained(path, device=device).model


def load_trained(
    path: str | Path,
    checkpoint: str | Path | None = None,
    data_root: str | None = None,
    device: str | torch.device = "cpu",
) -> TrainedRun:
    """The model at ``path`` (a run folder, a checkpoint file, or an exported folder) with its
    newest checkpoint (or ``checkpoint``), its configuration and, lazily, its data."""
    path = Path(path)
    if path.is_dir() and not (path / "config.yaml").is_file() and not (path / "checkpoints").is_dir():
        if (path / artefact.CONFIG).is_file() or (path / artefact.WEIGHTS).is_file():
            return _load_export(path, data_root, device)
        raise ZooError(
            f"{path} is not a genzoo run folder (no config.yaml or checkpoints/) or an exported model "
            f"(no {artefact.CONFIG} or {artefact.WEIGHTS})"
        )
    if path.is_file():  # a checkpoint file: <run>/checkpoints/<name>.pt
        path, checkpoint = path.parent.parent, path
    checkpoint = Path(checkpoint) if checkpoint else path / "checkpoints" / "last.pt"
    config = read_config(path) if (path / "config.yaml").is_file() else None
    state = load_checkpoint(checkpoint)
    config = config or state.get("config") or read_config(path)
    name = config["model"].get("name")
    if state.get("model_name") not in (None, name):
        raise ZooError(f"{checkpoint} holds a '{state.get('model_name')}' model but {path} says '{name}'.")
    data = None
    about = state.get("about")
    if about is not None:
        info = artefact.info_from(about["data_info"], str(checkpoint))
    else:  # written before checkpoints described their model: the data says what it was trained for
        data = _build_data(config, data_root)
        info = data.info
    _, options = split_group(config["model"], "name", "model.")
    model = build_model(name, info, check_model_options(name, options))
    _fit_weights(model, state["model"], f"{checkpoint} does not fit the model in {path / 'config.yaml'}")
    uses_ema = bool(state.get("ema")) and bool(model.ema_modules)
    if uses_ema:
        decay = config.get("trainer", {}).get("ema_decay") or 0.999
        ema = EMA(model, model.ema_modules, decay)
        ema.load_state_dict(state["ema"])
        model.load_state_dict(ema.shadow, strict=False)
    model.to(device).eval()
    record = {k: state.get(k) for k in ("images_seen", "elapsed_s", "hardware", "finished", "schedule")}
    return TrainedRun(path, model, config, int(state["step"]), uses_ema, data_root=data_root, record=record, _data=data)


def _build_data(config: dict[str, Any], data_root: str | None) -> DataBundle:
    source, options = split_group(config["data"], "source", "data.")
    if data_root is not None:
        options["root"] = data_root
    return build_data(source, **options)


def _fit_weights(model: GenerativeModel, weights: dict[str, torch.Tensor], problem: str) -> None:
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, ValueError) as e:
        raise ZooError(f"{problem}: {str(e).splitlines()[0]}") from None


def _load_export(folder: Path, data_root: str | None, device: str | torch.device) -> TrainedRun:
    """A folder ``python -m zoo.export`` wrote: its ``config.json`` checked, its weights read with
    safetensors (no code runs), every problem one ``ZooError`` naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = artefact.read_config(folder)
    where = str(folder / artefact.CONFIG)
    family = config["family"]
    if family not in MODELS:
        raise ZooError(
            f"{where} names the family '{family}', which this genzoo does not have ({', '.join(MODELS.names())})"
        )
    info: DataInfo = artefact.info_from(config["data_info"], where)
    try:
        options = check_model_options(family, config["options"])
    except ZooError as e:
        raise ZooError(f"{where}: {e}") from None
    model = build_model(family, info, options)
    weights_path = folder / artefact.WEIGHTS
    if not weights_path.is_file():
        raise ZooError(f"{folder} has no {artefact.WEIGHTS}: the export is incomplete; export the run again")
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as e:
        raise ZooError(f"{weights_path} cannot be read ({e}): it is truncated or not a safetensors file") from None
    _fit_weights(model, weights, f"{weights_path} does not fit the {family} model {where} describes")
    model.to(device).eval()
    run_config = {"model": {"name": family, **config["options"]}, "data": config.get("data", {})}
    record = dict(config.get("training", {}))
    step = int(record.get("step", 0))
    return TrainedRun(folder, model, run_config, step, False, exported=True, data_root=data_root, record=record)
