"""Two processes never write one run: a run folder is locked (``flock``) by the process that
trains it, ``trainer.resume=auto`` passes over a locked run and starts or resumes another, an
explicit resume of a locked run is refused, and ``kill -9`` never leaves a stale lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.test_hostile_inputs import refused
from tests.helpers import ROOT, fast, run_train
from zoo.files import temporary_name
from zoo.runs import RunLock


def command(tmp_path: Path, *overrides: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "train.py"),
        f"runs_dir={tmp_path / 'runs'}",
        "trainer.progress=false",
        *overrides,
    ]


def interrupted_run(quickdraw_root: Path, tmp_path: Path, args: list[str]) -> Path:
    """A run stopped at step 4 (as Ctrl-C leaves one: status 'interrupted', a checkpoint)."""
    result = run_train(*args, "trainer.max_steps=4", "trainer.resume=none", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = max((tmp_path / "runs" / "dcgan-quickdraw").iterdir(), key=lambda p: p.stat().st_mtime)
    status = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(status | {"status": "interrupted"}))
    return run


def train_rows(run: Path) -> list[int]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "train/images_per_s" in r]


def hold_lock(run_dir: str, ready) -> None:
    lock = RunLock.try_acquire(Path(run_dir))
    assert lock is not None
    ready.set()
    time.sleep(60)


def test_a_lock_is_exclusive_and_dies_with_its_process_even_under_kill_9(tmp_path):
    fork = multiprocessing.get_context("fork")
    ready = fork.Event()
    child = fork.Process(target=hold_lock, args=(str(tmp_path), ready))
    child.start()
    assert ready.wait(20)
    assert RunLock.try_acquire(tmp_path) is None  # held by the child
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    lock = RunLock.try_acquire(tmp_path)  # the kernel released it: never stale
    assert lock is not None
    assert list(tmp_path.iterdir()) == []  # locking wrote nothing into the folder
    lock.release()


def test_every_writer_has_its_own_temporary_names(tmp_path):
    target = tmp_path / "checkpoints" / "last.pt"
    names = {temporary_name(target) for _ in range(20)}
    assert len(names) == 20
    assert all(f".{os.getpid()}-" in n.name and n.name.endswith(".tmp.pt") for n in names)


def test_two_identical_commands_started_together_never_share_a_run(quickdraw_root, tmp_path):
    """Twice: an interrupted run exists, and two identical ``resume=auto`` commands start at
    once. One resumes it, the other trains a run of its own; both finish, every run's logged steps
    are each logged once and in order, and no folder has two writers' files."""
    args = fast(quickdraw_root, "dcgan", steps=10)
    for _ in range(2):
        resumable = interrupted_run(quickdraw_root, tmp_path, args)
        before = set((tmp_path / "runs" / "dcgan-quickdraw").iterdir())
        procs = [
            subprocess.Popen(command(tmp_path, *args), cwd=tmp_path, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        errs = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errs
        resumed = [e for e in errs if f"resuming {resumable} from step 4" in e]
        assert len(resumed) == 1, errs  # exactly one took the interrupted run
        new = set((tmp_path / "runs" / "dcgan-quickdraw").iterdir()) - before
        assert len(new) == 1, new  # the other made its own
        for run in (resumable, *new):
            assert json.loads((run / "run.json").read_text())["status"] == "finished"
            steps = train_rows(run)
            assert steps == sorted(set(steps)) and steps[-1] == 10, (run, steps)
            assert not [p for p in run.rglob("*") if ".tmp" in p.name]
        assert train_rows(resumable)[:2] == [2, 4] and train_rows(resumable)[2] == 6  # continued, not restarted


def test_a_second_command_while_the_first_trains_starts_its_own_run(quickdraw_root, tmp_path):
    args = fast(quickdraw_root, "dcgan", steps=100_000)
    resumable = interrupted_run(quickdraw_root, tmp_path, args)
    first = subprocess.Popen(command(tmp_path, *args), cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and "resuming" not in (resumable / "train.log").read_text():
            time.sleep(0.1)
        assert "resuming" in (resumable / "train.log").read_text()

        # an explicit resume of the live run is refused, and changes nothing there
        result = run_train(*args, f"trainer.resume={resumable}", cwd=tmp_path)
        refused(result, "another process is training that run now")

        second = run_train(*[a.replace("max_steps=100000", "max_steps=6") for a in args], cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert f"not resuming {resumable}: another process is training it" in second.stderr
        assert "new run" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    runs = sorted((tmp_path / "runs" / "dcgan-quickdraw").iterdir())
    assert len(runs) == 2
    log = (resumable / "train.log").read_text()
    assert log.count("new run") == 1 and log.count("resuming") == 1  # nobody else wrote into it
    steps = train_rows(resumable)
    assert steps == sorted(set(steps))
