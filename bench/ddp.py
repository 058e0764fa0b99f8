"""Data-parallel scaling on this machine's CPU cores: the same training command run as one process
and as ``torchrun --nproc_per_node=2`` (gloo), same global batch; prints the training images/s
each logged (the median over the logging windows after the first).

    ZOO_DATA_DIR=... python bench/ddp.py [--model dcgan] [--steps 200] [overrides ...]

On a 2-core machine the fair comparison is 1 process x 2 threads against 2 processes x 1 thread:
both use every core; 1 process x 1 thread is printed too, as the per-core baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def images_per_s(runs_dir: Path) -> float:
    metrics = next(runs_dir.glob("*/*/metrics.jsonl"))
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    speeds = [r["train/images_per_s"] for r in rows if "train/images_per_s" in r]
    return statistics.median(speeds[1:] or speeds)


def run(processes: int, threads: int, args, overrides: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        launcher = [sys.executable]
        if processes > 1:
            launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        command = [
            *launcher,
            str(ROOT / "train.py"),
            f"model={args.model}",
            "data=quickdraw",
            f"runs_dir={tmp}",
            f"trainer.max_steps={args.steps}",
            "trainer.max_minutes=null",
            f"trainer.threads={threads}",
            "trainer.log_every=20",
            "trainer.sample_every=1000000",
            "trainer.checkpoint_every=1000000",
            "trainer.progress=false",
            "eval.n_test=100",
            "logger.mode=disabled",
            *overrides,
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, check=True, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return images_per_s(Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--steps", type=int, default=200)
    args, overrides = parser.parse_known_args()
    cores = os.cpu_count()
    print(f"{args.model} on Quick, Draw!, {args.steps} steps, global batch as configured, {cores} CPU cores")
    print(f"{'processes x threads':>20} {'images/s':>9}")
    results = {}
    for processes, threads in [(1, 1), (1, 2), (2, 1)]:
        results[(processes, threads)] = run(processes, threads, args, overrides)
        print(f"{f'{processes} x {threads}':>20} {results[(processes, threads)]:9.1f}")
    print(f"2 processes vs 1 process on the same 2 cores: {results[(2, 1)] / results[(1, 2)]:.2f}x")


if __name__ == "__main__":
    main()
