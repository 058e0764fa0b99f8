"""Data sources, picked with ``data=<name>``; each returns a ``DataBundle`` (train, test, info)."""

from __future__ import annotations

from typing import Any

from zoo.data.base import BatchStream, DataBundle, DataInfo, ImageDataset
from zoo.registry import DATASETS

__all__ = ["BatchStream", "DataBundle", "DataInfo", "ImageDataset", "build_data"]


def build_data(source: str, name: str, **options: Any) -> DataBundle:
    """Build the data set registered as ``source``; ``name`` labels runs and dashboards."""
    return DATASETS.get(source)(name=name, **options)
