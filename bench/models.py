"""Training images/s of every registered model at its default configuration (``conf/model/*.yaml``),
through the shared trainer and through a bare loop that calls the same model's ``train_step`` on
the same batches and does the same arithmetic (the model's gradient clipping and EMA, where its
defaults set them) with nothing else around it (no batch stream, logging, progress, NaN agreement
or checkpoints); their ratio is the trainer's overhead (target >= 0.95). Separate runs drift by a
few percent on a shared CPU, so the table also gives ``in step``: the share of the trainer's own wall
time spent inside ``train_step``, timed within the same run. Each model runs in its own
process so that its peak memory (CPU: peak resident set size of the process; CUDA: peak allocated)
is its own. ``bench/throughput.py`` compares the trainer with a fully hand-written DCGAN loop.

    ZOO_DATA_DIR=... python bench/models.py [--steps 100] [--repeats 3] [--models dcgan vae ...]
        [--device cuda] [--precision bf16] [--channels-last]

Progressive ALAE measures its first level (4x4) at its default schedule; per-level figures come
from real runs (README, ALAE section). The colourisers (cINN, regression) train on 64x64 flowers,
the others on Quick, Draw!.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.build import build_model, check_model_options  # noqa: E402
from zoo.data import build_data  # noqa: E402
from zoo.ema import EMA  # noqa: E402
from zoo.evaluation import EvalConfig  # noqa: E402
from zoo.optim import Stepper  # noqa: E402
from zoo.registry import MODELS  # noqa: E402
from zoo.tracking import Tracker  # noqa: E402
from zoo.trainer import Trainer, TrainerConfig, autocast_dtype, next_batch_size  # noqa: E402


def defaults(name: str) -> tuple[dict, dict]:
    """The model's options and its trainer defaults (over the global ones), from conf/."""
    base = OmegaConf.load(ROOT / "conf" / "config.yaml")
    own = OmegaConf.load(ROOT / "conf" / "model" / f"{name}.yaml")
    trainer = OmegaConf.to_container(OmegaConf.merge(base.trainer, own.get("trainer", {})))
    return OmegaConf.to_container(own.model), trainer


def quickdraw():
    root = os.environ.get("ZOO_DATA_DIR", "data")
    cats = ["airplane", "apple", "cat", "circle", "crown", "diamond", "fish", "smiley_face", "square", "star"]
    return build_data("quickdraw", name="quickdraw", root=root, categories=cats, progress=False)


def flowers64():
    """Colourisers need colour: 64x64 flowers, as in their README section."""
    root = os.environ.get("ZOO_DATA_DIR", "data")
    return build_data(
        "folder", name="flowers64", root=root, path="flowers64", image_size=64, channels=3, progress=False
    )


def new_model(name: str, data, device):
    options, _ = defaults(name)
    options.pop("name")
    torch.manual_seed(0)
    return build_model(name, data.info, check_model_options(name, options)).to(device)


def bare_loop(name, data, steps, batch_size, device, precision, channels_last) -> float:
    model = new_model(name, data, device)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory)
    dtype = autocast_dtype(precision, device)
    _, trainer_defaults = defaults(name)  # the same arithmetic as the trainer: clipping, EMA
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    stepper = Stepper(model, scaler, trainer_defaults.get("grad_clip"), autocast=autocast)
    decay = trainer_defaults.get("ema_decay")
    ema = EMA(model, model.ema_modules, decay) if decay and model.ema_modules else None
    order = torch.randperm(len(data.train))
    position, seen = 0, 0
    start = time.perf_counter()
    for step in range(1, steps + 1):
        b = next_batch_size(model, seen, batch_size)
        x, y = data.train.batch(order[position : position + b])
        position = (position + b) % (len(order) - 1024)
        x = x.to(device).contiguous(memory_format=memory)
        stepper.train_batch(x, y.to(device), step)
        if ema is not None:
            ema.update(model)
        seen += b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def through_trainer(name, data, steps, batch_size, device, precision, channels_last) -> tuple[float, float]:
    """Images/s through ``Trainer.fit``, and the share of that wall time spent inside ``train_step``
    (timed in the same run, so machine drift cannot move it)."""
    _, trainer_defaults = defaults(name)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainerConfig(
            max_steps=steps,
            batch_size=batch_size,
            device=str(device),
            precision=precision,
            channels_last=channels_last,
            grad_clip=trainer_defaults.get("grad_clip"),
            ema_decay=trainer_defaults.get("ema_decay"),
            log_every=10**9,
            sample_every=10**9,
            checkpoint_every=10**9,
            progress=False,
        )
        tracker = Tracker("disabled", "bench", Path(tmp), "bench", "bench", [], {})
        trainer = Trainer(new_model(name, data, device), data, cfg, Path(tmp), tracker, 0, EvalConfig())
        trainer.finish = lambda: {}  # the final grids and evaluation are not training throughput
        inner, step = [0.0], trainer.model.train_step

        def timed_step(x, y):
            t0 = time.perf_counter()
            metrics = step(x, y)  # on the CPU the step has run when it returns (on CUDA, queued)
            inner[0] += time.perf_counter() - t0
            return metrics

        trainer.model.train_step = timed_step
        start = time.perf_counter()
        trainer.fit()
        if device.type == "cuda":
            torch.cuda.synchronize()
        total = time.perf_counter() - start
        return trainer.images_seen / total, inner[0] / total


def measure_one(args) -> dict:
    """In this process: warm up, then alternate bare loop and trainer ``repeats`` times."""
    device = torch.device(args.device)
    data = flowers64() if MODELS.get(args.one).colourises else quickdraw()
    _, trainer_defaults = defaults(args.one)
    batch_size = trainer_defaults["batch_size"]
    run = dict(
        data=data, batch_size=batch_size, device=device, precision=args.precision, channels_last=args.channels_last
    )
    bare_loop(args.one, steps=3, **run)
    through_trainer(args.one, steps=3, **run)
    bare, trainer, inside = [], [], []
    for _ in range(args.repeats):  # alternate, so drift in machine speed hits both alike
        bare.append(bare_loop(args.one, steps=args.steps, **run))
        speed, share = through_trainer(args.one, steps=args.steps, **run)
        trainer.append(speed)
        inside.append(share)
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return {
        "bare": statistics.median(bare),
        "trainer": statistics.median(trainer),
        "inside": statistics.median(inside),
        "peak_cuda_mb": peak_cuda,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=MODELS.names())
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args)))
        return

    threads = torch.get_num_threads()
    print(
        f"device {args.device} ({threads} CPU threads{', ' + torch.cuda.get_device_name() if args.device == 'cuda' else ''}), "
        f"precision {args.precision}, channels_last {args.channels_last}, {args.steps} steps x {args.repeats} repeats, "
        f"Quick, Draw! 32x32, torch {torch.__version__}"
    )
    print(
        f"{'model':10} {'batch':>5} {'bare img/s':>11} {'trainer img/s':>14} {'ratio':>6} {'in step':>8} {'peak MB':>8}"
    )
    for name in args.models:
        command = [sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--repeats", str(args.repeats)]
        command += ["--device", args.device, "--precision", args.precision] + (["--channels-last"] * args.channels_last)
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        out = child.stdout.read()
        if status != 0:
            print(f"{name:10} failed (exit status {status})")
            continue
        r = json.loads(out.strip().splitlines()[-1])
        peak = r["peak_cuda_mb"] if r["peak_cuda_mb"] is not None else usage.ru_maxrss / 1024  # KiB -> MiB
        batch = defaults(name)[1]["batch_size"]
        print(
            f"{name:10} {batch:>5} {r['bare']:11.1f} {r['trainer']:14.1f} {r['trainer'] / r['bare']:6.3f} "
            f"{r['inside']:8.3f} {peak:8.0f}"
        )


if __name__ == "__main__":
    main()
