"""Seeding and capturing every random number generator, so that a resumed run continues the
same random stream (noise vectors, binarisation, dropout) as an uninterrupted one would."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

# Seeds derived from the run's seed, each stream apart from the others (the strides are primes, so
# no two (rank, step) or (seed, epoch) pairs collide in practice):
GRID_NOISE_OFFSET = 12_345  # the fixed noise of every sample grid: seed + this
STREAM_SEED_STRIDE = 1_000_003  # the batch order of epoch e: seed * this + e
RANK_SEED_STRIDE = 1_000_003  # under torchrun, each process's own noise: seed + this * rank + ...
STEP_SEED_STRIDE = 7_919  # ... + this * the step it starts (resumes) at


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """All generator states as tensors and plain Python values (loadable with weights_only=True)."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
