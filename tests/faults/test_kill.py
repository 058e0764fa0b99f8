"""``kill -9`` at random moments: a checkpoint is never half-written, and a rerun always resumes
from the last complete checkpoint, losing at most one checkpoint interval of work."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tests.helpers import ROOT, fast, only_run, run_train
from zoo.checkpoint import load_checkpoint, save_checkpoint

TRIALS = 25


def write_checkpoints_forever(path: Path) -> None:
    """Child process: write ever newer 8 MB checkpoints; every tensor in version v equals v."""
    for version in range(1, 1_000_000):
        weights = torch.from_numpy(np.full(2_000_000, version, dtype=np.float32))
        save_checkpoint({"model": {"w": weights}, "step": version}, path)


def test_kill_9_during_checkpoint_writes_never_leaves_a_half_written_checkpoint(tmp_path):
    """25 processes killed at random moments while writing checkpoints back to back: each time,
    the checkpoint on disk loads and is one complete version (its tensor all equal to its step).
    The test also proves it hit the dangerous moment: some kills landed mid-write, leaving the
    temporary file behind (which the next write replaces)."""
    rng = random.Random(0)
    path = tmp_path / "last.pt"
    fork = multiprocessing.get_context("fork")
    mid_write = versions_seen = 0
    for _ in range(TRIALS):
        child = fork.Process(target=write_checkpoints_forever, args=(path,))
        child.start()
        while not path.exists():
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        mid_write += bool(list(path.parent.glob("last.*.tmp.pt")))  # the killed writer's own temporary file
        for leftover in path.parent.glob("last.*.tmp.pt"):
            leftover.unlink()
        state = load_checkpoint(path)
        assert torch.all(state["model"]["w"] == state["step"]), "a checkpoint mixes two versions"
        versions_seen = max(versions_seen, state["step"])
    assert mid_write >= 3, f"only {mid_write} of {TRIALS} kills landed during a write; the test proved little"
    assert versions_seen > 1


def logged_steps(tmp_path: Path) -> list[int]:
    found = list((tmp_path / "runs").glob("dcgan-quickdraw/*/metrics.jsonl"))
    lines = found[0].read_text().splitlines() if found else []
    return [json.loads(line)["step"] for line in lines if line.endswith("}")]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def checkpointed(tmp_path: Path) -> bool:
    return bool(list((tmp_path / "runs").glob("dcgan-quickdraw/*/checkpoints/last.pt")))


def test_train_py_killed_at_random_moments_resumes_each_time_losing_at_most_one_interval(quickdraw_root, tmp_path):
    """The real command, killed with SIGKILL at three random moments, then run to the end: each
    rerun continues the same run from its last complete checkpoint (every 5 steps), never more
    than 5 steps behind the last step it had logged, and the run finishes."""
    rng = random.Random(1)
    args = [
        a.replace("trainer.checkpoint_every=2", "trainer.checkpoint_every=5")
        for a in fast(quickdraw_root, "dcgan", 3000)
    ]
    args = [a.replace("trainer.log_every=2", "trainer.log_every=1") for a in args]
    command = [sys.executable, str(ROOT / "train.py"), f"runs_dir={tmp_path / 'runs'}", "trainer.progress=false", *args]
    resumed_from = []
    for trial in range(3):
        before = logged_steps(tmp_path)
        proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and (len(logged_steps(tmp_path)) <= len(before) or not checkpointed(tmp_path)):
            time.sleep(0.02)  # this process has trained a step, and the run has a checkpoint
        time.sleep(rng.uniform(0.0, 2.0))
        os.kill(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        if trial:
            assert f"from step {resumed_from[-1]}" in stderr, stderr
        last_logged = max(logged_steps(tmp_path))
        run = only_run(tmp_path, "dcgan-quickdraw")
        assert json.loads((run / "run.json").read_text())["status"] == "running"  # killed, not finished
        saved = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
        assert last_logged - saved <= 5, f"killed at step >= {last_logged}, but the checkpoint is at {saved}"
        resumed_from.append(saved)

    finish_at = resumed_from[-1] + 10  # budgets are not part of the run's identity: it resumes
    result = run_train(*[a.replace("max_steps=3000", f"max_steps={finish_at}") for a in args], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"from step {resumed_from[-1]}" in result.stderr
    run = only_run(tmp_path, "dcgan-quickdraw")  # one run folder across all four processes
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == finish_at
    # rows logged after each kill's checkpoint were dropped on resume and logged again: each step once
    training = [row["step"] for row in rows(run / "metrics.jsonl") if "train/minutes" not in row]  # not the end row
    assert training == sorted(set(training)) and training[-1] == finish_at, training
