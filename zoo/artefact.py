"""What a trained model is, apart from the run that made it: the description every checkpoint
carries (``describe``), and the exported folder genzoo writes and reads (the Hugging Face Hub
layout: ``model.safetensors`` and ``config.json`` beside a model card).

With the description a model is rebuilt without opening its data set: the family, its resolved
options and the ``DataInfo`` it was trained for are enough. The data options are kept for
provenance only, without the training machine's paths.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import zoo
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.runs import DATA_LOCATION_KEYS

FORMAT = 1  # of config.json and of the description in checkpoints
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "README.md"
LIBRARY = "genzoo"


def info_dict(info: DataInfo) -> dict[str, Any]:
    return {**dataclasses.asdict(info), "class_names": list(info.class_names)}


def info_from(fields: dict[str, Any], where: str) -> DataInfo:
    """The ``DataInfo`` a description records; a ``ZooError`` naming ``where`` when it is not one."""
    try:
        return DataInfo(**{**fields, "class_names": tuple(fields.get("class_names", ()))})
    except TypeError as e:
        raise ZooError(f"{where}: its data_info is not genzoo's ({e})") from None


@functools.cache
def commit() -> str | None:
    """The git commit of this genzoo checkout, when it is one (an installed copy has none)."""
    here = Path(__file__).resolve().parent
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None if found.returncode == 0 else None


def portable_data_options(data: dict[str, Any]) -> dict[str, Any]:
    """The data options without where the data was on the training machine (``zoo.runs``'
    location keys: root, download source, ...), a folder by its name."""
    options = {k: v for k, v in data.items() if k not in DATA_LOCATION_KEYS}
    if isinstance(options.get("path"), str) and Path(options["path"]).is_absolute():
        options["path"] = Path(options["path"]).name
    return options


def describe(config: dict[str, Any], info: DataInfo, family: str) -> dict[str, Any]:
    """Everything needed to rebuild the model of a run without its data: its family, its options
    (as the model's ``__init__`` takes them), the data it was trained for, and genzoo's version."""
    model = dict(config.get("model", {}))
    model.pop("name", None)
    return {
        "format": FORMAT,
        "family": family,
        "options": model,
        "data_info": info_dict(info),
        "data": portable_data_options(config.get("data", {})),
        "genzoo": {"version": zoo.__version__, "commit": commit()},
    }


def read_config(folder: Path) -> dict[str, Any]:
    """An exported folder's ``config.json``, checked to be genzoo's: a ``ZooError`` naming the file otherwise."""
    path = folder / CONFIG
    if not path.is_file():
        raise ZooError(f"{folder} is not a genzoo export: it has no {CONFIG} (python -m zoo.export writes one)")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ZooError(f"{path} cannot be read as JSON: {e}") from None
    if not isinstance(config, dict) or config.get("library") != LIBRARY:
        raise ZooError(f'{path} is not a genzoo model\'s config (no "library": "{LIBRARY}" in it)')
    missing = [k for k in ("family", "options", "data_info") if not isinstance(config.get(k), dict | str)]
    if missing:
        raise ZooError(f"{path} lacks {', '.join(missing)}: it was not written by python -m zoo.export")
    return config
