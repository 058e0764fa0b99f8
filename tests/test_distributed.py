"""Data-parallel training (``zoo.distributed``): two CPU processes with gloo train the real models
in step, a deterministic model matches the single-process run, and only rank 0 writes files.

The processes are started with ``torch.multiprocessing`` (what ``torchrun`` does, minus the CLI);
``test_torchrun_trains_through_train_py`` runs the real command once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from tests.helpers import ROOT, fast, only_run, tiny_bundle, tiny_model
from zoo import distributed
from zoo.checkpoint import load_checkpoint
from zoo.data.base import DataInfo
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig
from zoo.models.base import GenerativeModel
from zoo.tracking import Tracker
from zoo.trainer import Trainer, TrainerConfig

STEPS = 4


class TinyAutoencoder(GenerativeModel):
    """No noise and no batch norm: the gradient over a global batch is exactly the mean of the
    gradients over its two halves, so one process and two must train the same weights."""

    can_encode = True

    def __init__(self, info: DataInfo):
        super().__init__(info)
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 8 * 8, 8))
        self.decoder = nn.Sequential(nn.Linear(8, 4 * 8 * 8), nn.Unflatten(1, (4, 8, 8)), nn.Upsample(scale_factor=2))

    def configure_optimizers(self):
        # plain SGD: unlike Adam, its step scales with the gradient, so a wrong average shows
        return {"autoencoder": torch.optim.SGD(self.parameters(), lr=2.0, momentum=0.9)}

    def encode(self, x, y=None):
        return self.encoder(x)

    def decode(self, z, y=None):
        return self.decoder(z).mean(1, keepdim=True).sigmoid()

    def train_step(self, x, y):
        loss = F.mse_loss(self.reconstruct(x), x)
        self.optimize(loss, "autoencoder")
        return {"loss": loss.item()}

    def sample(self, n, generator=None):
        return self.decode(torch.randn(n, 8, generator=generator))


class NaNOnRank1(TinyAutoencoder):
    """Its loss is NaN at step 3 on the second process only."""

    def train_step(self, x, y):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3 and torch.distributed.get_rank() == 1:
            x = x * float("nan")
        return super().train_step(x, y)


def model_for(name: str, info: DataInfo) -> GenerativeModel:
    if name == "autoencoder":
        return TinyAutoencoder(info)
    if name.startswith("nan-"):
        return NaNOnRank1(info)
    if name == "syncbn":
        return tiny_model("dcgan", info)
    return tiny_model(name, info)


def train(name: str, run_dir: Path, steps: int = STEPS, batch_size: int = 16) -> Trainer:
    """``name``: a registered model (tiny widths), ``autoencoder``, or ``nan-stop``/``nan-skip`` (a NaN
    on rank 1 at step 3 under that ``nan_policy``)."""
    trainer = make_trainer(name, run_dir, steps, batch_size)
    trainer.fit()
    return trainer


def make_trainer(name: str, run_dir: Path, steps: int = STEPS, batch_size: int = 16) -> Trainer:
    torch.manual_seed(0)
    data = tiny_bundle(size=16)
    model = model_for(name, data.info)
    cfg = TrainerConfig(
        max_steps=steps,
        batch_size=batch_size,
        log_every=1,
        sample_every=1000,
        checkpoint_every=2,
        progress=False,
        n_samples=4,
        nan_policy="skip" if name == "nan-skip" else "stop",
        sync_batchnorm=name == "syncbn",
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = Tracker("disabled", "test", run_dir, "t", "g", [], {})
    eval_cfg = EvalConfig(n_test=16, batch_size=16)
    return Trainer(model, data, cfg, run_dir, tracker, 0, eval_cfg, {"model": {"name": name}})


def worker(rank: int, world: int, port: int, names: list[str], out: Path) -> None:
    """One process of a ``world``-process group: train each model; save the weights it ends with.
    Each rank trains into its own folder so that the test can see who wrote what."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        for name in names:
            try:
                trainer = train(name, out / f"{name}-rank{rank}")
            except ZooError as e:
                (out / f"{name}-rank{rank}.error").write_text(str(e))
                continue
            torch.save(trainer.model.state_dict(), out / f"{name}-rank{rank}.weights")
    finally:
        torch.distributed.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(world: int, names: list[str], out: Path, timeout: float = 240) -> None:
    """Start ``world`` processes and wait; a hang (e.g. ranks disagreeing on a collective) fails."""
    context = mp.start_processes(
        worker, args=(world, free_port(), names, out), nprocs=world, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"{world} processes did not finish within {timeout} s (a hang in a collective?)")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def logged_losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["train/loss"] for row in rows if "train/loss" in row]


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    run_processes(
        2, ["autoencoder", "dcgan", "vae", "glow", "alpha_gan", "alae", "nan-stop", "nan-skip", "syncbn"], out
    )
    return out


@pytest.mark.parametrize("name", ["autoencoder", "dcgan", "vae", "glow", "alpha_gan", "alae"])
def test_weights_stay_identical_on_every_process(two_process_runs, name):
    """Every model, including those stepping three or four optimizers per batch (alpha-GAN, ALAE)
    and those with data-dependent initialisation (Glow's ActNorm), ends with the same weights and
    buffers on both processes, bit for bit."""
    rank0 = weights(two_process_runs / f"{name}-rank0.weights")
    rank1 = weights(two_process_runs / f"{name}-rank1.weights")
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


@pytest.mark.parametrize("name", ["autoencoder", "dcgan", "alae"])
def test_only_rank_0_writes_files(two_process_runs, name):
    written = {p.name for p in (two_process_runs / f"{name}-rank0").iterdir()}
    assert {"checkpoints", "metrics.jsonl", "samples", "eval.json", "run.json"} <= written
    assert list((two_process_runs / f"{name}-rank1").iterdir()) == []


def test_two_processes_train_what_one_process_trains(two_process_runs, tmp_path):
    """Same global batch (16 = 2 x 8), same seed, deterministic model: after 4 SGD steps the
    weights and the logged losses (averaged over both halves of the batch) agree with one process.
    They differ only by float32 summation order (one mean over 16 vs the mean of two means over 8),
    about 1e-7 relative per step; 1e-5 leaves room for that and still fails for gradients summed
    instead of averaged (steps twice as large) or not exchanged at all."""
    single = train("autoencoder", tmp_path / "single")
    together = weights(two_process_runs / "autoencoder-rank0.weights")
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(together[key], value, rtol=1e-5, atol=1e-5)
    assert logged_losses(two_process_runs / "autoencoder-rank0") == pytest.approx(
        logged_losses(tmp_path / "single"), rel=1e-5
    )
    assert len(logged_losses(tmp_path / "single")) == STEPS


def test_alae_schedule_counts_the_global_batch(two_process_runs):
    """Both processes' images move the progressive schedule: 4 steps of a global batch of 8."""
    rank0 = weights(two_process_runs / "alae-rank0.weights")
    assert int(rank0["images_seen"]) == STEPS * 8


def phases_entered(trainer: Trainer) -> list[tuple[int, int, int, float]]:
    """(images seen, global batch size, level, blend) each time the trainer tells the model where
    its count stands: before the first step and after every step (the batch size is the next step's)."""
    entered, enter = [], trainer.model.enter

    def recording(phase):
        entered.append((phase.images_seen, phase.batch_size, phase.level, phase.blend))
        enter(phase)

    trainer.model.enter = recording
    return entered


def test_alae_resumed_on_one_process_continues_the_schedule_two_processes_left(two_process_runs, tmp_path):
    """The schedule is a function of the trainer's global count of images: a run trained on two
    processes and resumed on one takes the same batch sizes and phases, step for step, as a run
    trained on one process throughout (tiny ALAE: 16 images per level, 8 of them fading, batch 8)."""
    state = torch.load(two_process_runs / "alae-rank0" / "checkpoints" / "last.pt", weights_only=True)
    assert state["world_size"] == 2 and state["images_seen"] == STEPS * 8
    straight = make_trainer("alae", tmp_path / "straight", steps=STEPS + 3)
    straight_phases = phases_entered(straight)
    straight.fit()
    resumed = make_trainer("alae", tmp_path / "resumed", steps=STEPS + 3)
    resumed.load_state_dict(state)
    resumed_phases = phases_entered(resumed)
    resumed.fit()
    assert straight_phases == [
        (0, 8, 0, 1.0),  # 4x4
        (8, 8, 0, 1.0),
        (16, 8, 1, 0.0),  # 8x8 fades in over 8 images
        (24, 8, 1, 1.0),
        (32, 8, 2, 0.0),  # 16x16
        (40, 8, 2, 1.0),
        (48, 8, 2, 1.0),  # the last level trains until the budget ends
        (56, 8, 2, 1.0),  # after the last step: the phase the final weights are saved in
    ]
    assert resumed_phases == straight_phases[STEPS:]
    assert resumed.images_seen == straight.images_seen == (STEPS + 3) * 8
    assert load_checkpoint(resumed.checkpoint_path)["schedule"] == load_checkpoint(straight.checkpoint_path)["schedule"]


def test_torchrun_trains_through_train_py(quickdraw_root, tmp_path):
    """``torchrun --nproc_per_node=2 train.py ...``: one run folder, a finished run, a checkpoint
    that resumes in a single process."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",  # the torchrun command
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "train.py"),
        f"runs_dir={tmp_path / 'runs'}",
        "trainer.progress=false",
        "trainer.threads=1",
        *fast(quickdraw_root, "dcgan"),
    ]
    env = {**os.environ, "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tmp_path, "dcgan-quickdraw")
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "finished" and status["step"] == 4
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["world_size"] == 2 and state["images_seen"] == 4 * 16


def test_a_nan_on_one_process_stops_every_process_with_the_step(two_process_runs):
    """Rank 1 alone sees the NaN; both agree to stop (no rank left waiting in an all-reduce)."""
    for rank in (0, 1):
        message = (two_process_runs / f"nan-stop-rank{rank}.error").read_text()
        assert "at step 3" in message
    assert "'autoencoder loss' is nan" in (two_process_runs / "nan-stop-rank1.error").read_text()
    assert "on another process" in (two_process_runs / "nan-stop-rank0.error").read_text()


def test_a_nan_on_one_process_is_skipped_by_every_process(two_process_runs):
    rank0 = weights(two_process_runs / "nan-skip-rank0.weights")
    rank1 = weights(two_process_runs / "nan-skip-rank1.weights")
    assert all(torch.equal(rank0[k], rank1[k]) and torch.isfinite(rank0[k]).all() for k in rank0)
    state = torch.load(two_process_runs / "nan-skip-rank0" / "checkpoints" / "last.pt", weights_only=True)
    assert state["skipped_steps"] == 1 and state["step"] == STEPS


def test_sync_batchnorm_on_cpu_processes_is_refused_with_the_reason(two_process_runs):
    message = (two_process_runs / "syncbn-rank0.error").read_text()
    assert "sync_batchnorm needs CUDA" in message


# -- inside a SLURM job: srun (or the submitit launcher) starts one task per GPU ----------------------
def test_slurm_node_lists_give_their_first_host():
    assert distributed.first_host("node07") == "node07"
    assert distributed.first_host("gpu[003-004,07],cpu1") == "gpu003"  # zero padding kept
    assert distributed.first_host("a-b[1,3],c") == "a-b1"


def test_slurm_tasks_become_torchrun_variables_and_a_batch_script_stays_one_process():
    task = {
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "1",
        "SLURM_NTASKS": "4",
        "SLURM_STEP_NUM_TASKS": "4",
        "SLURM_JOB_ID": "41234",
        "SLURM_JOB_NODELIST": "gpu[01-02]",
    }
    assert distributed.slurm_environment(task) == {
        "RANK": "3",
        "WORLD_SIZE": "4",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "gpu01",
        "MASTER_PORT": str(20000 + 41234 % 40000),
    }
    assert distributed.slurm_environment(task | {"MASTER_PORT": "29500"})["MASTER_PORT"] == "29500"
    batch_script = {k: v for k, v in task.items() if k != "SLURM_STEP_NUM_TASKS"} | {"SLURM_PROCID": "0"}
    assert distributed.slurm_environment(batch_script) == {}  # sbatch's own process is not a task of a step
    assert distributed.slurm_environment(task | {"WORLD_SIZE": "4"}) == {}  # torchrun inside SLURM: torchrun's


def slurm_job_id() -> int:
    """A job id whose rendezvous port (20000 + id % 40000) is free now."""
    for _ in range(100):
        port = free_port()
        if 20000 <= port < 60000:
            return port - 20000
    pytest.skip("no free port between 20000 and 60000")


def slurm_worker(rank: int, world: int, job_id: int, names: list[str], out: Path) -> None:
    """One task of a 1-node, ``world``-task SLURM job step, with the variables srun sets and no
    torchrun ones: ``zoo.distributed.setup`` joins the group from them."""
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        os.environ.pop(key, None)
    os.environ.update(
        SLURM_JOB_ID=str(job_id),
        SLURM_PROCID=str(rank),
        SLURM_LOCALID=str(rank),
        SLURM_NODEID="0",
        SLURM_NTASKS=str(world),
        SLURM_STEP_NUM_TASKS=str(world),
        SLURM_NNODES="1",
        SLURM_JOB_NODELIST="localhost",
        SLURM_NODELIST="localhost",
    )
    torch.set_num_threads(1)
    assert distributed.setup("cpu") == "cpu" and distributed.world_size() == world
    try:
        for name in names:
            trainer = train(name, out / f"{name}-rank{rank}")
            torch.save(trainer.model.state_dict(), out / f"{name}-rank{rank}.weights")
    finally:
        distributed.teardown()


def test_two_slurm_tasks_train_in_step_and_only_the_first_writes(tmp_path):
    job_id = slurm_job_id()
    context = mp.start_processes(
        slurm_worker, args=(2, job_id, ["autoencoder", "alae"], tmp_path), nprocs=2, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 240
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("2 SLURM tasks did not finish within 240 s")
    for name in ("autoencoder", "alae"):
        rank0, rank1 = weights(tmp_path / f"{name}-rank0.weights"), weights(tmp_path / f"{name}-rank1.weights")
        assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), name
        assert list((tmp_path / f"{name}-rank1").iterdir()) == []  # rank 1 wrote nothing
        state = torch.load(tmp_path / f"{name}-rank0" / "checkpoints" / "last.pt", weights_only=True)
        assert state["world_size"] == 2 and state["step"] == STEPS
    single = train("autoencoder", tmp_path / "single")  # and two tasks train what one process trains
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(weights(tmp_path / "autoencoder-rank0.weights")[key], value, rtol=1e-5, atol=1e-5)
