"""Sweeps over the zoo with Hydra's submitit launcher: a real local sweep of two tiny models (two
parallel job processes, each its own run folder, grouped in W&B by the sweep), and the launcher
settings that cannot run genzoo refused before any job is submitted. SLURM's own DDP variables:
tests/test_distributed.py."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fast, run_train
from tests.wandb_records import logged
from zoo.sweeps import launcher_problem, sweep_id


def test_one_process_per_gpu_and_a_batch_that_splits_over_the_processes():
    assert launcher_problem({"gpus_per_node": 4, "tasks_per_node": 4, "nodes": 2}, 64) is None
    assert launcher_problem({"gpus_per_node": None, "tasks_per_node": 1, "nodes": 1}, 7) is None  # one CPU process
    assert "set hydra.launcher.tasks_per_node=4" in launcher_problem({"gpus_per_node": 4, "tasks_per_node": 1}, 64)
    assert "use a multiple of 8" in launcher_problem({"gpus_per_node": 4, "tasks_per_node": 4, "nodes": 2}, 60)
    assert sweep_id() is None  # not a job of a Hydra sweep


def sweep(quickdraw_root, *extra: str) -> list[str]:
    args = [a for a in fast(quickdraw_root, "dcgan") if not a.startswith(("model", "logger"))]
    return ["-m", "model=dcgan,vae", "model.width=4", *args, *extra]


def test_a_local_sweep_runs_each_job_in_its_own_process_and_run_folder(quickdraw_root, tmp_path):
    result = run_train(
        *sweep(quickdraw_root, "hydra/launcher=local", "logger.mode=offline"),
        cwd=tmp_path,
        process=True,
        env={"WANDB_MODE": None, "NETRC": str(tmp_path / "none")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [multirun] = (tmp_path / "runs" / "multirun").iterdir()
    jobs = [p for p in (multirun / ".submitit").iterdir() if p.name.isdigit()]  # one folder per job (its id)
    assert len(jobs) == 2
    for model in ("dcgan", "vae"):
        [run] = (tmp_path / "runs" / f"{model}-quickdraw").iterdir()
        assert json.loads((run / "run.json").read_text())["status"] == "finished"
        [record] = run.glob("wandb/offline-run-*/run-*.wandb")
        assert set(logged(record)["run"].tags) == {model, "quickdraw", f"sweep-{multirun.name}"}


@pytest.mark.parametrize(
    ("launcher", "words"),
    [
        (
            ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4", "hydra.launcher.tasks_per_node=2"],
            "tasks_per_node=2 but gpus_per_node=4",
        ),
        (
            ["hydra/launcher=local", "hydra.launcher.tasks_per_node=3"],
            "trainer.batch_size=16 does not split over the 3",
        ),
    ],
)
def test_a_launcher_that_cannot_run_genzoo_is_refused_before_any_job(quickdraw_root, tmp_path, launcher, words):
    result = run_train(*sweep(quickdraw_root, *launcher, "logger.mode=disabled"), cwd=tmp_path, process=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and words in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def test_a_launcher_option_of_the_wrong_type_is_hydras_message(quickdraw_root, tmp_path):
    result = run_train(
        *sweep(quickdraw_root, "hydra/launcher=local", "hydra.launcher.nodes=many"), cwd=tmp_path, process=True
    )
    assert result.returncode == 1 and "hydra.launcher.nodes" in result.stderr and "many" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_sweep_whose_first_job_is_refused_leaves_no_folder(quickdraw_root, tmp_path):
    (tmp_path / "runs").mkdir()
    result = run_train(*sweep(quickdraw_root, "model.width=0", "logger.mode=disabled"), cwd=tmp_path, process=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: model.width=0 is not valid: it should be greater than or equal to 1"
    )
    assert list((tmp_path / "runs").iterdir()) == []  # no multirun/<time>/0, no multirun.yaml
