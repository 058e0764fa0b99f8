"""The shared trainer: one loop for every model, with no model-specific branch.

The model brings its networks, optimizers and ``train_step``; the trainer brings the device, mixed
precision, the ``Stepper`` (clipping, warm-up, the NaN/inf guard), the step/time budget, a
deterministic and resumable batch stream and the count of images seen (which a progressive
model's schedule reads), EMA of generator weights, progress and logging, sample and
reconstruction grids, atomic checkpoints (periodic, final, and on Ctrl-C/SIGTERM), and the final
held-out evaluation by capability.
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import Field, field_validator
from tqdm import tqdm

from zoo import distributed
from zoo.artefact import describe
from zoo.checkpoint import save_checkpoint
from zoo.data.base import BatchStream, DataBundle, content_key
from zoo.ema import EMA
from zoo.errors import NonFiniteLossError, ZooError
from zoo.evaluation import EvalConfig, evaluate
from zoo.files import atomic_write_text
from zoo.images import pairs, save_grid
from zoo.models.base import GenerativeModel
from zoo.nn.progressive import Phase
from zoo.optim import LogWindow, NonFiniteGuard, Stepper
from zoo.options import Count, Decay, Options, PositiveFloat
from zoo.runs import read_status, write_status
from zoo.seeding import (
    GRID_NOISE_OFFSET,
    RANK_SEED_STRIDE,
    STEP_SEED_STRIDE,
    rng_state,
    seed_everything,
    set_rng_state,
)
from zoo.signals import interrupts_held
from zoo.tracking import Tracker

log = logging.getLogger(__name__)


class TrainerConfig(Options):
    """``trainer.*`` (defaults in ``conf/config.yaml``; a model's YAML may override them)."""

    max_steps: Count = 5000
    max_minutes: PositiveFloat | None = None  # wall-clock budget over the whole run (resumes included)
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 64
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")] = "auto"  # auto: CUDA when present
    precision: Literal["auto", "32", "bf16", "fp16"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    grad_clip: PositiveFloat | None = None  # max gradient norm per optimizer step
    ema_decay: Decay | None = None  # e.g. 0.999: average the model's ema_modules
    log_every: Count = 50
    sample_every: Count = 500
    checkpoint_every: Count = 500
    n_samples: Annotated[int, Field(ge=1, le=1024)] = 64
    progress: bool | None = None  # None: a progress bar when stderr is a terminal
    threads: Annotated[int, Field(ge=1, le=1024)] | None = None  # torch CPU threads (None: torch's default)
    nan_policy: Literal["stop", "skip"] = "stop"  # stop: a non-finite loss ends the run | skip: drop that update
    max_skipped_in_a_row: Count = 100  # nan_policy=skip gives up after this many skipped batches in a row
    compile: bool = False  # torch.compile each network (its forward) where it works
    channels_last: bool = False  # NHWC memory layout for convolutions (faster on recent GPUs)
    sync_batchnorm: bool = False  # under torchrun: batch-norm statistics over all processes (CUDA)
    resume: str = "auto"  # auto | none | <run dir or .pt> (read by train.py when it picks the run folder)

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, value: Any) -> Any:
        return str(value) if value == 32 and not isinstance(value, bool) else value  # Hydra reads 32 as a number


def hardware(device: torch.device) -> str:
    """The device a run trained on, in words, for its model card."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type}, {torch.get_num_threads()} threads ({platform.processor() or platform.machine()})"


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError(f"trainer.device={name} but CUDA is not available here; use trainer.device=auto or cpu")
    if name.startswith("cuda:") and int(name.split(":")[1]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ZooError(f"trainer.device={name} but this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ZooError(
            "trainer.device=mps but Apple's MPS backend is not available here (it needs a Mac with Apple "
            "silicon and a PyTorch built for it); use trainer.device=auto or cpu"
        )
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full fp32."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if precision == "32":
        return None
    if device.type != "cuda":
        raise ZooError(f"trainer.precision={precision} needs a CUDA device; on {device.type} use 32 or auto")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def check_devices(cfg: TrainerConfig, world: int) -> torch.device:
    """The device, refusing what it cannot do (precision, SyncBatchNorm) before anything is written."""
    device = pick_device(cfg.device)
    autocast_dtype(cfg.precision, device)
    if cfg.sync_batchnorm and device.type != "cuda":  # as the README says: refused on CPU, however many processes
        raise ZooError("trainer.sync_batchnorm needs CUDA devices (PyTorch's SyncBatchNorm runs on GPUs only)")
    return device


def batch_sizes(model: GenerativeModel, cfg: TrainerConfig) -> tuple[int, ...]:
    """Every global batch size the run will use: the model's schedule's, else ``trainer.batch_size``."""
    return model.schedule.batch_sizes if model.schedule is not None else (cfg.batch_size,)


def batch_size_at(model: GenerativeModel, images_seen: int, default: int) -> int:
    """The global batch size of the step after ``images_seen`` training images (``default`` for a
    model without a schedule)."""
    return model.schedule.at(images_seen).batch_size if model.schedule is not None else default


def next_batch_size(model: GenerativeModel, images_seen: int, default: int) -> int:
    """``batch_size_at``, and a model with a schedule is told the phase it is in now."""
    if model.schedule is not None:
        model.enter(model.schedule.at(images_seen))
    return batch_size_at(model, images_seen, default)


def check_batches(model: GenerativeModel, cfg: TrainerConfig, train_size: int, world: int) -> None:
    """Refuse, before anything is written, a batch size larger than the training set or one that
    does not split evenly over the processes (the batch size is global)."""
    for b in batch_sizes(model, cfg):
        if train_size < b:
            raise ZooError(
                f"the training set has {train_size} images, fewer than the batch size {b} "
                "(trainer.batch_size, or a model's per-level batch sizes); lower it or add data"
            )
        if b % world:
            raise ZooError(
                f"the batch size {b} does not split evenly over {world} processes: the batch size is global "
                f"(all processes together); use a multiple of {world}"
            )


class Trainer:
    def __init__(
        self,
        model: GenerativeModel,
        data: DataBundle,
        cfg: TrainerConfig,
        run_dir: Path,
        tracker: Tracker,
        seed: int,
        eval_cfg: EvalConfig,
        run_config: dict[str, Any] | None = None,
        device: torch.device | None = None,
    ):
        """``device``: as ``check_devices`` returned it (train.py checks before it picks a run
        folder); None checks the configuration here."""
        self.cfg, self.data, self.run_dir, self.tracker = cfg, data, Path(run_dir), tracker
        self.seed, self.eval_cfg, self.run_config = seed, eval_cfg, run_config or {}
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.device = device if device is not None else check_devices(cfg, self.world)
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)
        self.main = self.rank == 0  # only rank 0 logs and writes files
        if cfg.sync_batchnorm and self.world > 1:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        if cfg.compile:
            for network in self.model.children():
                if any(True for _ in network.parameters()):
                    network.compile()  # in place: parameter names and checkpoints are unchanged
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.guard = NonFiniteGuard(cfg.nan_policy, cfg.max_skipped_in_a_row)
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)
        self.stepper = Stepper(self.model, scaler, cfg.grad_clip, self.guard, autocast)
        self.ema = EMA(self.model, model.ema_modules, cfg.ema_decay) if cfg.ema_decay and model.ema_modules else None
        self.step = 0
        self.images_seen = 0
        self.elapsed_s = 0.0  # training wall time over the run's life, resumes included
        self.progress = self.main and (sys.stderr.isatty() if cfg.progress is None else cfg.progress)
        self.checkpoint_path = self.run_dir / "checkpoints" / "last.pt"
        self.saved_step: int | None = None  # step of the checkpoint on disk, if any
        self._fixed_noise_seed = seed + GRID_NOISE_OFFSET
        self.stream = BatchStream(data.train, seed)
        self.data_content = content_key(data)  # which pixels this run trains on (checked on resume)
        self._phase: str | None = None  # the name of the schedule's phase at the last step

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self, finished: bool = False) -> dict[str, Any]:
        return {
            "format": 1,
            "model_name": self.model_name,
            "config": self.run_config,
            "data_info": {"channels": self.data.info.channels, "image_size": self.data.info.image_size},
            "data_content": self.data_content,
            "data_sizes": [len(self.data.train), len(self.data.test)],
            # what rebuilds the model without its data: family, options, DataInfo, genzoo's version
            "about": describe(self.run_config, self.data.info, self.model_name),
            "hardware": hardware(self.device),
            "step": self.step,
            "images_seen": self.images_seen,
            "elapsed_s": self.elapsed_s,
            "skipped_steps": self.guard.skipped_steps,
            "world_size": self.world,
            "stream_position": self.stream.position,
            "schedule": self._schedule_progress(),  # a progressive model's level and blend
            "finished": finished,
            "model": self.model.state_dict(),
            **self.stepper.state_dict(),  # optimizers, gradient scaler, learning-rate warm-up
            "ema": self.ema.state_dict() if self.ema else None,
            "rng": rng_state(),
            "wandb_id": self.tracker.run_id,
        }

    @property
    def model_name(self) -> str:
        return self.run_config.get("model", {}).get("name", type(self.model).__name__)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        info = state.get("data_info", {})
        here = {"channels": self.data.info.channels, "image_size": self.data.info.image_size}
        if info and info != here:
            raise ZooError(
                f"the checkpoint was trained on images {info}, this data gives {here}; start over with trainer.resume=none"
            )
        try:
            self.model.load_state_dict(state["model"])
            self.stepper.load_state_dict(state, updates_so_far=int(state["step"]))
        except (RuntimeError, KeyError, ValueError) as e:
            raise ZooError(
                f"the checkpoint does not fit this model ({str(e).splitlines()[0]}); "
                "it was written with another model configuration. Start over with trainer.resume=none."
            ) from None
        if self.ema is not None:
            if state.get("ema"):
                self.ema.load_state_dict(state["ema"])
            else:
                log.info("the checkpoint has no EMA weights; the average starts from the current weights")
                self.ema = EMA(self.model, self.model.ema_modules, self.cfg.ema_decay)
        self.step, self.images_seen = int(state["step"]), int(state["images_seen"])
        self.saved_step = self.step
        self.elapsed_s = float(state.get("elapsed_s", 0.0))
        self.guard.skipped_steps = int(state.get("skipped_steps", 0))
        if "stream_position" in state:
            self.stream.position = int(state["stream_position"])
        else:  # a checkpoint from before the position was saved: replay the batch sizes
            self.stream.position = BatchStream.position_after(self._replayed_batch_sizes(), len(self.data.train))
        set_rng_state(state["rng"])
        if self.main:
            self._forget_metrics_after(self.step)

    def save(self, status: str, finished: bool = False) -> None:
        if not self.main:
            return
        self._check_run_dir()
        save_checkpoint(self.state_dict(finished), self.checkpoint_path)
        self.saved_step = self.step
        write_status(
            self.run_dir, status=status, step=self.step, checkpoint_step=self.step, schedule=self._schedule_progress()
        )

    # -- the schedule: batch size and phase as a function of the images seen ----------------------
    def _phase_now(self) -> Phase | None:
        """Where the model's schedule stands after the images seen so far (None: no schedule)."""
        return self.model.schedule.at(self.images_seen) if self.model.schedule is not None else None

    def _schedule_progress(self) -> dict[str, float]:
        phase = self._phase_now()
        return phase.progress() if phase is not None else {}

    def _replayed_batch_sizes(self) -> list[int]:
        """The batch sizes of the steps so far, from the schedule (for an old checkpoint)."""
        sizes, images = [], 0
        for _ in range(self.step):
            sizes.append(batch_size_at(self.model, images, self.cfg.batch_size))
            images += sizes[-1]
        return sizes

    def _check_phase(self) -> None:
        """When the model's schedule moves on (e.g. to the next resolution), keep the last state of
        the phase that ended as ``checkpoints/<phase>.pt`` beside ``last.pt``."""
        now = self._phase_now()
        if now is None:
            return
        phase = now.name
        if phase != self._phase:
            if self._phase is not None and self.main:
                path = self.checkpoint_path.with_name(f"{self._phase}.pt")
                save_checkpoint(self.state_dict(), path)
                log.info("phase %s done at step %d: kept %s", self._phase, self.step, path)
            self._phase = phase

    # -- images --------------------------------------------------------------------------------
    def _ema_weights(self):
        return self.ema.swapped_in(self.model) if self.ema else contextlib.nullcontext()

    @torch.no_grad()
    def write_grids(self) -> dict[str, Path]:
        written: dict[str, Path] = {}
        if not self.main:
            return written
        self.model.eval()
        try:
            with self._ema_weights():
                noise = torch.Generator(device=self.device).manual_seed(self._fixed_noise_seed)
                samples = self.model.sample(self.cfg.n_samples, generator=noise)
                written["samples"] = save_grid(samples, self.run_dir / "samples" / f"step_{self.step}.png")
                x, y = (t.to(self.device) for t in self.data.test.spread(32))
                if self.model.can_encode:
                    recon = self.model.reconstruct(x, y)
                    written["reconstructions"] = save_grid(
                        pairs(x, recon), self.run_dir / "recons" / f"step_{self.step}.png", nrow=8
                    )
                noise = torch.Generator(device=self.device).manual_seed(self._fixed_noise_seed)
                for name, images in self.model.extra_grids(x, y, noise).items():
                    written[name] = save_grid(
                        images, self.run_dir / name / f"step_{self.step}.png", nrow=self.model.grid_columns
                    )
        finally:
            self.model.train()
        self.tracker.log_images(written, self.step)
        return written

    # -- the loop ------------------------------------------------------------------------------
    def _log_window(self, window: LogWindow) -> dict[str, float]:
        """The window's means (one read from the device), checked, written and logged."""
        means, seconds = window.means(self.device)
        self.guard.check_means(means, self.step)
        row = {f"train/{k}": v for k, v in means.items()}
        row["train/images_per_s"] = window.images / max(seconds, 1e-9)
        row["train/images_seen"] = float(self.images_seen)
        if self.guard.skipped_steps:
            row["train/skipped_steps"] = float(self.guard.skipped_steps)
        if not self.main:
            return row
        self._append_metrics({"step": self.step, **row})
        self.tracker.log(row, self.step)
        return row

    def _forget_metrics_after(self, step: int) -> None:
        """Drop the rows of ``metrics.jsonl`` logged after the checkpoint being resumed (a run killed
        between checkpoints, and a line torn by the kill), in one atomic rewrite: the resumed run
        logs those steps again, so every step appears once and in order."""
        path = self.run_dir / "metrics.jsonl"
        if not path.is_file():
            return
        kept, dropped = [], 0
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
                kept.append(line + "\n")
            else:
                dropped += 1
        if dropped:
            atomic_write_text(path, "".join(kept), "metrics log")
            log.info(
                "metrics.jsonl: %d rows logged after step %d dropped; the resumed run logs them again", dropped, step
            )

    def _check_run_dir(self) -> None:
        """The run folder deleted or moved under a running process: one message now, rather than a
        traceback from the next write (or a half run folder made again by a checkpoint's write)."""
        if self.main and not self.run_dir.is_dir():
            raise ZooError(
                f"the run folder {self.run_dir} was deleted or moved while training (at step {self.step}), so "
                "nothing more can be saved to it; if it was moved, move it back and rerun the same command to "
                "resume from its last checkpoint, otherwise rerun to start a new run"
            )

    def _append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def _out_of_time(self) -> bool:
        """Agreed by every process (their clocks differ; one stopping alone would leave the others
        waiting in the next all-reduce)."""
        late = self.cfg.max_minutes is not None and self.elapsed_s >= self.cfg.max_minutes * 60
        return distributed.any_rank(late, self.device)

    def _next_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's slice of the next global batch (of ``size`` images), on the device."""
        x, y = self.stream.take(size, shard=(self.rank, self.world))
        x = x.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        return x, y.to(self.device, non_blocking=True)

    def _count_images(self, size: int = 0) -> int:
        """Add a step's ``size`` images to the count; a model with a schedule is told where the
        count puts it (so its weights, saved or evaluated, carry their phase). The next step's
        global batch size."""
        self.images_seen += size
        return next_batch_size(self.model, self.images_seen, self.cfg.batch_size)

    def fit(self) -> dict[str, float]:
        cfg = self.cfg
        window = LogWindow()
        last_tick = time.perf_counter()
        bar = tqdm(total=cfg.max_steps, initial=self.step, disable=not self.progress, unit="step", dynamic_ncols=True)
        if self.main:
            write_status(self.run_dir, status="running", step=self.step)
        self._phase = now.name if (now := self._phase_now()) is not None else None
        first_step = self.step
        distributed.broadcast_parameters(self.model)  # every process starts from rank 0's weights
        if self.world > 1:  # each process draws its own noise (z, dequantisation), reproducibly
            seed_everything(self.seed + RANK_SEED_STRIDE * self.rank + STEP_SEED_STRIDE * self.step)
        self.model.train()
        size = self._count_images()
        try:
            while self.step < cfg.max_steps and not self._out_of_time():
                self._check_phase()
                x, y = self._next_batch(size)
                distributed.broadcast_buffers(self.model)
                metrics = self.stepper.train_batch(x, y, self.step + 1)
                if metrics is not None:  # a batch with a dropped update is not logged
                    window.add(metrics)
                if self.step == first_step:  # data-dependent initialisations (ActNorm) follow rank 0
                    distributed.broadcast_parameters(self.model)
                if self.ema is not None:
                    self.ema.update(self.model)
                self.step += 1
                window.images += size
                size = self._count_images(size)
                now = time.perf_counter()
                self.elapsed_s += now - last_tick
                last_tick = now
                bar.update(1)
                self._check_run_dir()  # a stat per step: nothing next to a training step
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    row = self._log_window(window)
                    bar.set_postfix(
                        {k.removeprefix("train/"): f"{v:.3g}" for k, v in row.items() if k != "train/images_seen"},
                        refresh=False,
                    )
                    if not self.progress and self.main:
                        log.info(
                            "step %d/%d  %s",
                            self.step,
                            cfg.max_steps,
                            "  ".join(f"{k.removeprefix('train/')}={v:.4g}" for k, v in row.items()),
                        )
                    window = LogWindow()
                if self.step % cfg.sample_every == 0:
                    self.write_grids()
                if self.step % cfg.checkpoint_every == 0:
                    self.save("running")
                last_tick = time.perf_counter()  # grids and checkpoints are not training time
        except KeyboardInterrupt:
            bar.close()
            log.info("interrupted: saving a checkpoint at step %d to %s", self.step, self.checkpoint_path)
            with interrupts_held(lambda: log.info("still writing the checkpoint; it takes a moment")):
                self.save("interrupted")
            if self.main:
                log.info("saved: rerun the same command to resume from step %d", self.step)
            raise
        except NonFiniteLossError as e:
            bar.close()
            if self.main:
                write_status(self.run_dir, status="failed", reason=e.describe())
            if self.saved_step is None:
                advice = (
                    "no checkpoint had been written yet, so there is nothing to resume: start a new run with "
                    "trainer.grad_clip=1.0 or a lower learning rate"
                )
            else:
                advice = (
                    f"the last good checkpoint (step {self.saved_step}) is kept at {self.checkpoint_path}. "
                    "Rerun with trainer.grad_clip=1.0 to resume from it, or lower the learning rate (a new run)"
                )
            raise ZooError(f"{e.describe()}; {advice}.") from None
        bar.close()
        distributed.broadcast_buffers(self.model)  # end as rank 0 (batch-norm statistics of the last batch)
        if not self.main:
            return {}  # rank 0 writes the final checkpoint and evaluates
        try:
            return self.finish()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM after the last step: the run says so
            if (read_status(self.run_dir) or {}).get("status") != "finished":
                log.info("interrupted while finishing: the checkpoint at step %d is kept", self.step)
                write_status(self.run_dir, status="interrupted", step=self.step)
            raise
        except ZooError as e:  # a write that failed while finishing (a full disk): the status says so too
            with contextlib.suppress(ZooError):  # the status file may not fit on the disk either
                if self.run_dir.is_dir():  # not made again when the folder itself is gone
                    write_status(self.run_dir, status="failed", step=self.step, reason=str(e))
            raise

    def finish(self) -> dict[str, float]:
        """Final checkpoint, grids and held-out evaluation."""
        self._check_phase()  # a phase that ended with the budget keeps its checkpoint too
        self.save("running")
        grids = self.write_grids()
        with self._ema_weights():
            results = evaluate(self.model, self.data.test, self.eval_cfg, self.device, self.progress)
        self._check_run_dir()
        results["train/images_seen"] = float(self.images_seen)
        results["train/minutes"] = self.elapsed_s / 60
        self._append_metrics({"step": self.step, **results})
        atomic_write_text(
            self.run_dir / "eval.json", json.dumps({"step": self.step, **results}, indent=2) + "\n", "eval.json"
        )
        self.tracker.log({k: v for k, v in results.items() if k.startswith("test/")}, self.step)
        kind = {"test/likelihood": f"{self.model.likelihood_kind} on {self.model.likelihood_data}"}
        self.tracker.summary(results | (kind if self.model.has_likelihood else {}))
        self.save("finished", finished=True)
        for name, path in grids.items():
            log.info("%s: %s", name, path)
        log.info("finished at step %d: %s", self.step, ", ".join(f"{k}={v:.4g}" for k, v in results.items()))
        return results
