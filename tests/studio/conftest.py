"""Tiny trained runs for the studio: the doodle runs of every drawing model and the two
colourisers (made once per session through train.py), gathered under one runs folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from zoo.studio.actions import Studio
from zoo.studio.catalogue import Catalogue


@pytest.fixture(scope="session")
def studio_runs(trained_runs, colourisers, tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("studio") / "runs"
    runs.mkdir()
    parents = {run.parent for run in trained_runs.values()}
    parents |= {p for p in (colourisers[0] / "runs").iterdir() if p.is_dir()}
    for parent in parents:
        (runs / parent.name).symlink_to(parent, target_is_directory=True)
    return runs


@pytest.fixture
def studio(studio_runs, tmp_path) -> Studio:
    return Studio(Catalogue(studio_runs, torch.device("cpu")), tmp_path / "scratch")
