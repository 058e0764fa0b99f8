"""One path from a configuration to objects: every option checked, then the data and the model.

``check_train_config`` validates every group of ``train.py``'s options (types, ranges, choices,
unknown keys) without reading any data, so a bad value costs nothing; ``build_model`` then makes
the ``GenerativeModel`` (``zoo.data.build_data`` the ``DataBundle``). ``train.py``, ``zoo.trained``
(and through it ``compare.py``, ``zoo.morph`` and the studio) and the benches all come through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from zoo.data import check_data_options
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig
from zoo.models.base import GenerativeModel
from zoo.options import Name, Options, Seed, check, checked_options
from zoo.registry import MODELS
from zoo.trainer import TrainerConfig


class LoggerConfig(Options):
    mode: Literal["auto", "online", "offline", "disabled"] = "auto"
    project: Name = "genzoo"
    online_timeout_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 30.0


class RunOptions(Options):
    """The top level of ``conf/config.yaml``; each group has its own schema."""

    seed: Seed = 0
    runs_dir: Annotated[str, Field(min_length=1)] = "runs"  # '' would write runs into the current folder
    trainer: dict[str, Any]
    eval: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    logger: dict[str, Any]


@dataclass
class TrainSetup:
    """A training configuration after every check: typed groups, plus the model and data options
    as the model and data source will receive them."""

    seed: int
    runs_dir: str
    trainer: TrainerConfig
    eval: EvalConfig
    logger: LoggerConfig
    model_name: str
    model_options: dict[str, Any]
    data_source: str
    data_options: dict[str, Any]


def split_group(group: dict[str, Any], key: str, prefix: str) -> tuple[str, dict[str, Any]]:
    """(``group[key]``, the other options) for the ``name`` of a model or the ``source`` of data."""
    options = dict(group)
    value = options.pop(key, None)
    if not isinstance(value, str) or not value:
        raise ZooError(f"{prefix}{key} is missing or not a name; pick one with {prefix.rstrip('.')}=<name>")
    return value, options


def check_model_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The model's options checked against its ``__init__`` signature (its types and ranges)."""
    return checked_options(MODELS.get(name).__init__, options, "model.", fixed=("info",))


def check_train_config(config: dict[str, Any]) -> TrainSetup:
    """Every option of a ``train.py`` configuration, checked before anything is read or written."""
    top = check(RunOptions, config, "")
    model_name, model_options = split_group(top.model, "name", "model.")
    data_source, data_options = split_group(top.data, "source", "data.")
    data_name = data_options.pop("name", None)
    setup = TrainSetup(
        seed=top.seed,
        runs_dir=top.runs_dir,
        trainer=check(TrainerConfig, top.trainer, "trainer."),
        eval=check(EvalConfig, top.eval, "eval."),
        logger=check(LoggerConfig, top.logger, "logger."),
        model_name=model_name,
        model_options=check_model_options(model_name, model_options),
        data_source=data_source,
        data_options={"name": data_name, **data_options},
    )
    check_data_options(data_source, **setup.data_options)
    return setup


def training_bytes(name: str, info: DataInfo, options: dict[str, Any]) -> int | None:
    """The memory a model's training state takes at least: its parameters, their gradients and
    Adam's two moments (4 copies), counted on PyTorch's meta device, which allocates nothing; None
    when the model cannot be built there."""
    try:
        with torch.device("meta"):
            model = MODELS.get(name)(info=info, **options)
    except Exception:  # a constructor that needs real values (a decomposition, a data-dependent size)
        return None
    return 4 * sum(p.numel() * p.element_size() for p in model.parameters())


def build_model(name: str, info: DataInfo, options: dict[str, Any]) -> GenerativeModel:
    """The registered model ``name`` for data described by ``info``, with options that
    ``check_model_options`` returned (``check_train_config`` and ``build`` check them once)."""
    return MODELS.get(name)(info=info, **options)
