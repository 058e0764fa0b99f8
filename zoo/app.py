"""``python train.py ...``: turn the Hydra config into typed objects and run the trainer.

Errors the user can fix (``ZooError``) are printed as one line and exit with code 2; Ctrl-C or
SIGTERM saves a checkpoint and exits with 130. Under ``torchrun`` rank 0 picks (or resumes) the run
folder, logs and writes files; every process trains (``zoo.distributed``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from zoo import distributed
from zoo.build import build_model, check_train_config, training_bytes
from zoo.checkpoint import load_checkpoint
from zoo.commands import hydra_command, resolved
from zoo.data import build_data
from zoo.data.base import DataBundle, check_has_colour, content_key
from zoo.errors import ZooError
from zoo.files import atomic_write_text, remove_stale_temporaries
from zoo.logs import setup_logging
from zoo.memory import check_fits
from zoo.runs import config_diff, data_diff, discard_if_empty, fingerprint, resolve_run, write_status
from zoo.seeding import seed_everything
from zoo.signals import interrupt_on_sigterm
from zoo.sweeps import discard_refused_job, sweep_id
from zoo.tracking import Tracker
from zoo.trainer import Trainer, check_batches, check_devices

log = logging.getLogger("zoo")


def check_same_run(state: dict[str, Any], config: dict[str, Any], path: Path, data: DataBundle) -> None:
    """Refuse a checkpoint written by another model, model configuration, seed, batch size or data,
    naming the difference."""
    theirs = state.get("config", {})
    ours = config["model"]
    if state.get("model_name") != ours["name"]:
        raise ZooError(
            f"{path} is a '{state.get('model_name')}' checkpoint, not '{ours['name']}'. Pick a matching checkpoint or model."
        )
    labels = ("checkpoint", "now")
    diff = config_diff(theirs.get("model", {}), ours, "model.", labels=labels)
    if diff:
        raise ZooError(
            f"{path} was trained with another model configuration ({'; '.join(diff)}). "
            "Use the same options or trainer.resume=none."
        )
    trajectory = [  # a run's record holds one seed and batch size from its first step to its last
        f"{name}: checkpoint {before}, now {now}"
        for name, before, now in (
            ("seed", theirs.get("seed"), config["seed"]),
            ("trainer.batch_size", theirs.get("trainer", {}).get("batch_size"), config["trainer"]["batch_size"]),
        )
        if before is not None and before != now
    ]
    if trajectory:
        raise ZooError(
            f"{path} was trained with {'; '.join(trajectory)}: resuming would record a run that never happened. "
            "Resume with the checkpoint's values, or start a new run with trainer.resume=none."
        )
    diff = data_diff(theirs, config["data"], labels) if "data" in theirs else []
    if diff:
        raise ZooError(
            f"{path} was trained on other data ({'; '.join(diff)}). "
            "Use the same data options, or trainer.resume=none for a new run on this data."
        )
    if state.get("data_content") not in (None, content_key(data)):  # same options, other pictures
        sizes = [len(data.train), len(data.test)]
        then = state.get("data_sizes")
        counts = (
            f"{then[0]:,} training and {then[1]:,} test images then, {sizes[0]:,} and {sizes[1]:,} now"
            if then and then != sizes
            else f"as many images ({sizes[0]:,} training, {sizes[1]:,} test), but other pixels or labels"
        )
        raise ZooError(
            f"{path} was trained on other images with the same data options: {counts}. "
            "Put the original images back to resume, or start a new run with trainer.resume=none."
        )


def train(cfg: DictConfig) -> Path:
    """Train one model on one data set; returns the run folder.

    Everything that can be refused is checked before a run folder is picked: every option, the
    data, the model, the device and precision, the batch size against the data."""
    config = resolved(cfg)
    setup = check_train_config(config)
    tcfg = setup.trainer
    tcfg.device = distributed.setup(tcfg.device)  # joins the process group under torchrun
    setup_logging()
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    seed_everything(setup.seed)

    data = build_data(setup.data_source, **setup.data_options)
    needed = training_bytes(setup.model_name, data.info, setup.model_options)
    if needed is not None:
        check_fits(needed, f"model={setup.model_name} with these options", "choose smaller model widths")
    model = build_model(setup.model_name, data.info, setup.model_options)
    if model.colourises:
        check_has_colour(data, f"model={setup.model_name}")
    device = check_devices(tcfg, distributed.world_size())
    check_batches(model, tcfg, len(data.train), distributed.world_size())

    fp = fingerprint(config)
    runs_dir = Path(setup.runs_dir)
    picked: tuple | ZooError | None = None
    if distributed.is_main():  # rank 0 alone holds the run's lock and writes its files
        try:
            picked = resolve_run(tcfg.resume, runs_dir, setup.model_name, data.info.name, fp)
        except ZooError as e:
            picked = e
    shared = distributed.broadcast_object(picked[:2] if isinstance(picked, tuple) else picked)
    if isinstance(shared, ZooError):
        raise shared
    run_dir, checkpoint = shared  # every process continues the run rank 0 picked
    lock = picked[2] if isinstance(picked, tuple) else None
    try:
        state = claim(run_dir, checkpoint, lock, runs_dir, config, fp, setup.model_name, data)
        return _fit(run_dir, state, config, setup, data, model, device)
    finally:
        if lock is not None:
            lock.release()


def claim(
    run_dir: Path,
    checkpoint: Path | None,
    lock,
    runs_dir: Path,
    config: dict[str, Any],
    fp,
    model_name,
    data: DataBundle,
):
    """The checkpoint's state (None for a new run), after checking that it belongs to this
    configuration; rank 0 then writes the run's config and status. A refusal, or a folder that
    cannot be written, leaves a new run's folder removed and an existing run untouched."""
    main = distributed.is_main()
    new_folder = checkpoint is None or run_dir not in checkpoint.parents  # made by resolve_run for this run
    try:
        state = load_checkpoint(checkpoint) if checkpoint else None
        if state is not None:
            check_same_run(state, config, checkpoint, data)
        if main:
            remove_stale_temporaries(run_dir)  # of a writer killed mid-write; we hold the lock now
            atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(config), "run configuration")
            write_status(run_dir, fingerprint=fp, model=model_name, data=data.info.name, status="starting")
        return state
    except ZooError:
        if main and new_folder:  # take it back whole
            for name in ("config.yaml", "run.json"):
                (run_dir / name).unlink(missing_ok=True)
            discard_if_empty(run_dir, runs_dir, lock)
        raise


def _fit(run_dir: Path, state, config, setup, data, model, device) -> Path:
    main = distributed.is_main()
    tcfg = setup.trainer
    file_log = logging.FileHandler(run_dir / "train.log") if main else None
    if file_log is not None:
        file_log.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("zoo").addHandler(file_log)
        if state is not None:
            log.info("resuming %s from step %d (trainer.resume=%s)", run_dir, state["step"], tcfg.resume)
        else:
            log.info("new run %s", run_dir)

    lcfg = setup.logger
    tracker = Tracker(
        mode=lcfg.mode if main else "disabled",
        project=lcfg.project,
        run_dir=run_dir,
        name=f"{setup.model_name}-{data.info.name}-{run_dir.name}",
        group=data.info.name,
        tags=[setup.model_name, data.info.name, *([f"sweep-{sweep}"] if (sweep := sweep_id()) else [])],
        config=config,
        run_id=state.get("wandb_id") if state else None,
        online_timeout_s=lcfg.online_timeout_s,
    )
    trainer = Trainer(model, data, tcfg, run_dir, tracker, setup.seed, setup.eval, config, device)
    if state is not None:
        trainer.load_state_dict(state)
    exit_code = 1
    try:
        trainer.fit()
        exit_code = 0
    finally:
        tracker.finish(exit_code)
        if file_log is not None:
            logging.getLogger("zoo").removeHandler(file_log)
            file_log.close()
    return run_dir


def cli(argv: list[str]) -> int:
    """``python train.py <argv>`` in this process (one run; multirun needs ``train.py``): its exit code."""
    return hydra_command("config", argv, main)


def main(cfg: DictConfig) -> None:
    interrupt_on_sigterm()
    try:
        train(cfg)
    except ZooError as e:
        who = f"[rank {distributed.rank()}] " if distributed.world_size() > 1 else ""
        print(f"{who}error: {e}", file=sys.stderr)
        if distributed.is_main():
            discard_refused_job()
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        if distributed.is_main():
            print("interrupted; rerun the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        distributed.teardown()
