"""Name -> class registries for models and data sources.

A model file registers itself with ``@MODELS.register("name")``; ``model=<name>`` on the command
line picks the YAML ``conf/model/<name>.yaml`` whose ``name`` field looks the class up here.
Every module in ``zoo.models`` and ``zoo.data`` is imported on first lookup, so adding a model
is one file plus one YAML.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

from zoo.errors import ZooError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self._package = package  # imported lazily so that its modules can register
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return add

    def _load(self) -> None:
        if self._package is not None:
            import_submodules(self._package)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items:
            known = self.names()
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ZooError(f"unknown {self.kind} '{name}'. Registered: {', '.join(known)}.{hint}")
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items


def import_submodules(package: str) -> None:
    """Import every module of ``package`` (so that their ``register`` decorators run)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{info.name}")


MODELS: Registry = Registry("model", "zoo.models")
DATASETS: Registry = Registry("data source", "zoo.data")
