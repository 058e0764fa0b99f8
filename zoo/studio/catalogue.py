"""The finished runs the studio offers, and their models, loaded lazily and once.

The page only ever sends back a key it was given (``alpha_gan-quickdraw/2026-12-01_16-51-52``);
the key is looked up in this catalogue, never opened as a path, so a browser reaches the runs
under ``runs_dir`` and nothing else. A run that cannot be loaded becomes its reason, not a crash.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.registry import MODELS
from zoo.runs import finished_runs
from zoo.trained import TrainedRun, load_trained


@dataclass(frozen=True)
class Entry:
    """The newest finished run of one model on one data set."""

    key: str  # "<model>-<data>/<time>", what the page shows and sends back
    model: str
    data: str
    run_dir: Path

    @property
    def family(self) -> type[GenerativeModel]:
        return MODELS.get(self.model)


class Catalogue:
    """Finished runs under ``runs_dir`` by data set (the newest per model), and a cache of the
    loaded ones (``device``: where models are moved once loaded)."""

    def __init__(self, runs_dir: str | Path, device: torch.device, data_root: str | None = None):
        self.runs_dir = Path(runs_dir)
        self.device, self.data_root = device, data_root
        self.entries: dict[str, Entry] = {}
        self._loaded: dict[str, TrainedRun] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Scan ``runs_dir`` again (a run finished or was deleted while the page was open)."""
        entries: dict[str, Entry] = {}
        folders = sorted(p.name for p in self.runs_dir.iterdir() if p.is_dir()) if self.runs_dir.is_dir() else []
        for model in MODELS.names():
            for folder in folders:
                if not folder.startswith(f"{model}-"):
                    continue
                data = folder[len(model) + 1 :]
                runs = finished_runs(self.runs_dir, model, data)
                if runs:
                    key = f"{folder}/{runs[0].name}"
                    entries[key] = Entry(key, model, data, runs[0])
        with self._lock:
            self.entries = entries
            self._failed.clear()  # a fixed run gets another chance

    # -- what the page lists --------------------------------------------------------------------
    def data_sets(self, need: str = "any") -> list[str]:
        """Data names with at least one run whose family can do ``need`` (see ``entries_for``)."""
        return sorted({e.data for e in self.entries.values() if self._can(e, need)})

    def entries_for(self, data: str, need: str = "any") -> list[Entry]:
        """The runs on ``data`` that can do ``need``: ``encode``, ``sample`` (images from nothing,
        not colourisers), ``style_mix``, ``colourise``, ``transfer`` (one image's colours on another) or
        ``any``; sorted by model name."""
        return sorted(
            (e for e in self.entries.values() if e.data == data and self._can(e, need)), key=lambda e: e.model
        )

    def model(self, key: str, need: str) -> GenerativeModel:
        """The loaded model of ``key``, refused with the reason when its family cannot do ``need``."""
        trained = self.load(key)
        if not self._can(self.entries[key], need):
            cannot = {"style_mix": "has no per-layer styles", "colourise": "does not colourise"}.get(
                need, f"cannot {need}"
            )
            raise ZooError(f"{key} holds a {type(trained.model).__name__}, which {cannot}")
        return trained.model

    def keys(self, need: str) -> list[str]:
        """The keys of every run, on any data, that can do ``need``."""
        return [key for key, entry in self.entries.items() if self._can(entry, need)]

    @staticmethod
    def _can(entry: Entry, need: str) -> bool:
        family = entry.family
        return {
            "any": True,
            "encode": family.can_encode and not family.colourises,
            "sample": not family.colourises,
            "style_mix": family.can_style_mix,
            "colourise": family.colourises,
            "transfer": family.can_transfer,
        }[need]

    # -- loading --------------------------------------------------------------------------------
    def load(self, key: str) -> TrainedRun:
        """The run of ``key`` (one of ``entries``), loaded on first use; a ``ZooError`` with the
        reason when it is unknown, was deleted, or cannot be loaded."""
        entry = self.entries.get(key)
        if entry is None:
            raise ZooError(f"'{key}' is not one of the finished runs under {self.runs_dir}; pick one from the list")
        if not (entry.run_dir / "checkpoints" / "last.pt").is_file():
            with self._lock:
                self._loaded.pop(key, None)
            raise ZooError(f"{key} was deleted (or lost its checkpoint) while the page was open; press 'Refresh runs'")
        with self._lock:
            if key in self._failed:
                raise ZooError(self._failed[key])
            if key not in self._loaded:
                try:
                    self._loaded[key] = load_trained(entry.run_dir, data_root=self.data_root, device=self.device)
                except Exception as e:
                    self._failed[key] = f"{key} cannot be loaded: {e if isinstance(e, ZooError) else repr(e)}"
                    raise ZooError(self._failed[key]) from None
            return self._loaded[key]
