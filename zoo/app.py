"""``python train.py ...``: turn the Hydra config into typed objects and run the trainer.

Errors the user can fix (``ZooError``) are printed as one line and exit with code 2; Ctrl-C or
SIGTERM saves a checkpoint and exits with 130. Under ``torchrun`` rank 0 picks (or resumes) the run
folder, logs and writes files; every process trains (``zoo.distributed``).
"""

from __future__ import annotations

import inspect
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from zoo import distributed
from zoo.checkpoint import load_checkpoint
from zoo.data import build_data
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig
from zoo.registry import MODELS
from zoo.runs import discard_if_empty, fingerprint, resolve_run, write_status
from zoo.seeding import seed_everything
from zoo.tracking import Tracker
from zoo.trainer import Trainer, trainer_config

log = logging.getLogger("zoo")


def setup_logging() -> None:
    root = logging.getLogger("zoo")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[genzoo] %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO if distributed.is_main() else logging.WARNING)


def build_model(name: str, info, options: dict[str, Any]):
    cls = MODELS.get(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "info"}
    unknown = set(options) - accepted
    if unknown:
        raise ZooError(f"model '{name}' has no option(s) {sorted(unknown)}; its options are {sorted(accepted)}")
    return cls(info=info, **options)


def check_same_model(state: dict[str, Any], config: dict[str, Any], path: Path) -> None:
    """Refuse a checkpoint written by another model or model configuration, naming the difference."""
    theirs, ours = state.get("config", {}).get("model", {}), config["model"]
    if state.get("model_name") != ours["name"]:
        raise ZooError(
            f"{path} is a '{state.get('model_name')}' checkpoint, not '{ours['name']}'. Pick a matching checkpoint or model."
        )
    diff = [
        f"model.{k}: checkpoint {theirs.get(k)!r}, now {ours.get(k)!r}"
        for k in sorted(set(theirs) | set(ours))
        if theirs.get(k) != ours.get(k)
    ]
    if diff:
        raise ZooError(
            f"{path} was trained with another model configuration ({'; '.join(diff)}). Use the same options or trainer.resume=none."
        )


def train(cfg: DictConfig) -> Path:
    """Train one model on one data set; returns the run folder."""
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    trainer_options = dict(config["trainer"])
    resume = str(trainer_options.pop("resume", "auto"))
    tcfg = trainer_config(trainer_options)
    tcfg.device = distributed.setup(tcfg.device)  # joins the process group under torchrun
    setup_logging()
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    seed_everything(config["seed"])

    data_options = dict(config["data"])
    source = data_options.pop("source")
    data = build_data(source, **data_options)
    model_options = dict(config["model"])
    model_name = model_options.pop("name")
    model = build_model(model_name, data.info, model_options)

    fp = fingerprint(config)
    picked = None
    if distributed.is_main():
        try:
            picked = resolve_run(resume, Path(config["runs_dir"]), model_name, data.info.name, fp)
        except ZooError as e:
            picked = e
    picked = distributed.broadcast_object(picked)  # every process continues the run rank 0 picked
    if isinstance(picked, ZooError):
        raise picked
    run_dir, checkpoint = picked
    try:
        state = load_checkpoint(checkpoint) if checkpoint else None
        if state is not None:
            check_same_model(state, config, checkpoint)
    except ZooError:
        if distributed.is_main():
            discard_if_empty(run_dir, Path(config["runs_dir"]))  # a refused run leaves nothing behind
        raise
    main = distributed.is_main()  # rank 0 writes the run's files; the others train in step with it
    file_log = logging.FileHandler(run_dir / "train.log") if main else None
    if file_log is not None:
        file_log.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("zoo").addHandler(file_log)
        if state is not None:
            log.info("resuming %s from step %d (trainer.resume=%s)", run_dir, state["step"], resume)
        else:
            log.info("new run %s", run_dir)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        write_status(run_dir, fingerprint=fp, model=model_name, data=data.info.name, status="starting")

    lcfg = config["logger"]
    tracker = Tracker(
        mode=lcfg["mode"] if main else "disabled",
        project=lcfg["project"],
        run_dir=run_dir,
        name=f"{model_name}-{data.info.name}-{run_dir.name}",
        group=data.info.name,
        tags=[model_name, data.info.name],
        config=config,
        run_id=state.get("wandb_id") if state else None,
    )
    trainer = Trainer(model, data, tcfg, run_dir, tracker, config["seed"], EvalConfig(**config["eval"]), config)
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


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(cfg: DictConfig) -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        train(cfg)
    except ZooError as e:
        who = f"[rank {distributed.rank()}] " if distributed.world_size() > 1 else ""
        print(f"{who}error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        if distributed.is_main():
            print("interrupted; rerun the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        distributed.teardown()
