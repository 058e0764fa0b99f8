"""Data sources, picked with ``data=<name>``; each returns a ``DataBundle`` (train, test, info)."""

from __future__ import annotations

from typing import Any

from zoo.data.base import BatchStream, DataBundle, DataInfo, ImageDataset
from zoo.options import checked_options
from zoo.registry import DATASETS

__all__ = ["BatchStream", "DataBundle", "DataInfo", "ImageDataset", "build_data", "check_data_options"]


def build_data(source: str, name: str, **options: Any) -> DataBundle:
    """Build the data set registered as ``source``; ``name`` labels runs and dashboards. The
    options are checked against the source's typed signature first (one message for a bad one)."""
    return DATASETS.get(source)(**check_data_options(source, name, **options))


def check_data_options(source: str, name: str, **options: Any) -> dict[str, Any]:
    """The options of the data source ``source``, checked without reading any data."""
    return checked_options(DATASETS.get(source), {"name": name, **options}, "data.")
