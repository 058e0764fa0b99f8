"""The finished runs the studio offers, and their models, loaded lazily and once.

Besides the runs (the newest finished one per model and data set), every exported model folder
directly under ``runs_dir`` (``python -m zoo.export``, or a copy downloaded from the Hub) is an
entry of its own, keyed by its folder's name.

The page only ever sends back a key it was given (``alpha_gan-quickdraw/2026-12-01_16-51-52``);
the key is looked up in this catalogue, never opened as a path, so a browser reaches the runs
under ``runs_dir`` and nothing else. A run that cannot be loaded becomes its reason, not a crash.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo import artefact
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.registry import MODELS
from zoo.runs import finished_runs, read_eval, read_status
from zoo.trained import TrainedRun, load_trained

log = logging.getLogger("zoo.studio")


@dataclass(frozen=True)
class Entry:
    """The newest finished run of one model on one data set, or an exported model."""

    key: str  # "<model>-<data>/<time>" (an export: its folder's name), what the page shows and sends back
    model: str
    data: str
    run_dir: Path  # the run folder, or the exported folder
    exported: bool = False
    progress: str = ""  # how far it trained: "5,294 steps, 40 min, 32px"

    @property
    def family(self) -> type[GenerativeModel]:
        return MODELS.get(self.model)

    @property
    def weights(self) -> Path:
        return self.run_dir / (artefact.WEIGHTS if self.exported else "checkpoints/last.pt")


def trained_so_far(step: int | None, minutes: float | None, schedule: dict | None) -> str:
    """Steps, minutes and, for a progressive model, the resolution reached, in words."""
    said = [f"{step:,} steps" if step is not None else "steps not recorded"]
    if minutes is not None:
        said.append(f"{minutes:.0f} min" if minutes >= 1 else f"{minutes * 60:.0f} s")
    if schedule and schedule.get("resolution"):
        said.append(f"{int(schedule['resolution'])}px")
    return ", ".join(said)


def run_progress(run_dir: Path) -> str:
    status = read_status(run_dir) or {}
    return trained_so_far(status.get("step"), read_eval(run_dir).get("train/minutes"), status.get("schedule"))


def exported_entry(folder: Path) -> Entry | None:
    """The entry of an exported folder, or None (with a warning) when it is not a usable one."""
    try:
        config = artefact.read_config(folder)
        family, data = config["family"], config["data_info"]["name"]
    except (ZooError, KeyError, TypeError) as e:
        log.warning("studio: leaving out %s: %s", folder, e)
        return None
    if family not in MODELS:
        log.warning("studio: leaving out %s: its family '%s' is not one of genzoo's", folder, family)
        return None
    training = config.get("training", {})
    progress = trained_so_far(training.get("step"), training.get("minutes"), training.get("schedule"))
    return Entry(folder.name, family, str(data), folder, exported=True, progress=f"exported, {progress}")


class Catalogue:
    """Finished runs under ``runs_dir`` by data set (the newest per model), and a cache of the
    loaded ones (``device``: where models are moved once loaded)."""

    def __init__(self, runs_dir: str | Path, device: torch.device, data_root: str | None = None):
        self.runs_dir = Path(runs_dir)
        self.device, self.data_root = device, data_root
        self.entries: dict[str, Entry] = {}
        self._loaded: dict[str, tuple[tuple[int, int], TrainedRun]] = {}  # key -> (its weights' stamp, run)
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
                    entries[key] = Entry(key, model, data, runs[0], progress=run_progress(runs[0]))
        for folder in folders:
            if (self.runs_dir / folder / artefact.CONFIG).is_file():
                entry = exported_entry(self.runs_dir / folder)
                if entry is not None:
                    entries[entry.key] = entry
        with self._lock:
            self.entries = entries
            self._failed.clear()  # a fixed run gets another chance
            self._loaded = {k: v for k, v in self._loaded.items() if k in entries}  # memory of deleted runs

    # -- what the page lists --------------------------------------------------------------------
    def data_sets(self, need: str = "any") -> list[str]:
        """Data names with at least one run whose family can do ``need`` (see ``entries_for``)."""
        return sorted({e.data for e in self.entries.values() if self.can(e, need)})

    def entries_for(self, data: str, need: str = "any") -> list[Entry]:
        """The runs on ``data`` that can do ``need``: ``encode``, ``sample`` (images from nothing,
        not colourisers), ``style_mix``, ``colourise``, ``transfer`` (one image's colours on another) or
        ``any``; sorted by model name."""
        return sorted((e for e in self.entries.values() if e.data == data and self.can(e, need)), key=lambda e: e.model)

    def model(self, key: str, need: str) -> GenerativeModel:
        """The loaded model of ``key``, refused with the reason when its family cannot do ``need``."""
        trained = self.load(key)
        if not self.can(self.entries[key], need):
            cannot = {"style_mix": "has no per-layer styles", "colourise": "does not colourise"}.get(
                need, f"cannot {need}"
            )
            raise ZooError(f"{key} holds a {type(trained.model).__name__}, which {cannot}")
        return trained.model

    def keys(self, need: str) -> list[str]:
        """The keys of every run, on any data, that can do ``need``."""
        return [key for key, entry in self.entries.items() if self.can(entry, need)]

    @staticmethod
    def can(entry: Entry, need: str) -> bool:
        """Whether the family of ``entry`` can do ``need`` (the needs of ``entries_for``)."""
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
        try:
            stat = entry.weights.stat()
        except OSError:
            with self._lock:
                self._loaded.pop(key, None)
            raise ZooError(
                f"{key} was deleted (or lost its checkpoint) while the page was open; reload the page"
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key in self._failed:
                raise ZooError(self._failed[key])
            loaded = self._loaded.get(key)
            if loaded is None or loaded[0] != stamp:  # never serve weights that were replaced on disk
                if loaded is not None:
                    log.info("studio: %s changed on disk; loading it again", key)
                try:
                    run = load_trained(entry.run_dir, data_root=self.data_root, device=self.device)
                except Exception as e:
                    self._loaded.pop(key, None)
                    self._failed[key] = f"{key} cannot be loaded: {e if isinstance(e, ZooError) else repr(e)}"
                    raise ZooError(self._failed[key]) from None
                self._loaded[key] = (stamp, run)
            return self._loaded[key][1]

    def loaded(self, key: str) -> bool:
        """Whether ``key`` is in memory already (its first answer will not wait for a load)."""
        return key in self._loaded
