"""How much does the shared trainer cost? DCGAN training images/s through ``zoo.trainer.Trainer``
and through a minimal hand-written loop of the same networks, batch, optimizers and data, measured
alternately in one process; prints both and their ratio (target: >= 0.95).

    python bench/throughput.py [--data quickdraw|synthetic] [--steps 100] [--batch-size 64] [--repeats 2]

With ``--data quickdraw`` the doodles are read from ``ZOO_DATA_DIR`` (or ``data/``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo.data import build_data
from zoo.data.base import DataBundle, DataInfo, ImageDataset
from zoo.evaluation import EvalConfig
from zoo.models.base import frozen
from zoo.models.dcgan import DCGAN
from zoo.tracking import Tracker
from zoo.trainer import Trainer, TrainerConfig


def load(kind: str) -> DataBundle:
    if kind == "quickdraw":
        root = os.environ.get("ZOO_DATA_DIR", "data")
        categories = ["airplane", "apple", "cat", "circle", "crown", "diamond", "fish", "smiley_face", "square", "star"]
        return build_data("quickdraw", name="quickdraw", root=root, categories=categories, progress=False)
    images = (torch.rand(20000, 1, 32, 32) > 0.8).to(torch.uint8) * 255
    return DataBundle(ImageDataset(images), ImageDataset(images[:100]), DataInfo("synthetic", 1, 32, binary=True))


def fresh_model(data: DataBundle, device: torch.device) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(data.info).to(device)


def hand_loop(data: DataBundle, steps: int, batch_size: int, device: torch.device) -> float:
    """The same DCGAN update written out by hand; returns images/s."""
    model = fresh_model(data, device)
    G, D = model.generator, model.discriminator
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    images = data.train.images
    order = torch.randperm(len(images))
    start = time.perf_counter()
    for step in range(steps):
        index = order[(step * batch_size) % (len(images) - batch_size) :][:batch_size]
        real = images[index].float().div_(255).to(device) * 2 - 1
        fake = G(torch.randn(batch_size, 100, device=device))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with frozen(D):
            loss_g = F.softplus(-D(fake)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def through_trainer(data: DataBundle, steps: int, batch_size: int, device: torch.device) -> float:
    """The real trainer loop (logging, NaN guard, progress accounting included); returns images/s."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        cfg = TrainerConfig(
            max_steps=steps,
            batch_size=batch_size,
            device=device.type,
            log_every=50,
            sample_every=10**9,
            checkpoint_every=10**9,
            progress=False,
        )
        tracker = Tracker("disabled", "bench", run_dir, "bench", "bench", [], {})
        trainer = Trainer(fresh_model(data, device), data, cfg, run_dir, tracker, 0, EvalConfig())
        trainer.finish = lambda: {}  # the final checkpoint, grids and evaluation are not training throughput
        start = time.perf_counter()
        trainer.fit()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["quickdraw", "synthetic"], default="quickdraw")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load(args.data)
    print(
        f"DCGAN 32x32, batch {args.batch_size}, {args.steps} steps per measurement, {args.repeats} repeats, "
        f"device {device} ({torch.get_num_threads()} CPU threads), data {args.data}, torch {torch.__version__}"
    )
    hand_loop(data, args.warmup, args.batch_size, device)
    through_trainer(data, args.warmup, args.batch_size, device)
    hand, trainer = [], []
    for r in range(args.repeats):  # alternate, so drift in machine speed hits both alike
        hand.append(hand_loop(data, args.steps, args.batch_size, device))
        trainer.append(through_trainer(data, args.steps, args.batch_size, device))
        print(f"  repeat {r + 1}: hand loop {hand[-1]:8.1f} img/s   trainer {trainer[-1]:8.1f} img/s")
    h, t = statistics.median(hand), statistics.median(trainer)
    print(
        f"median  hand loop {h:8.1f} img/s   trainer {t:8.1f} img/s   ratio trainer/hand = {t / h:.3f} "
        f"({'meets' if t / h >= 0.95 else 'misses'} the 0.95 target)"
    )


if __name__ == "__main__":
    main()
