"""Held-out evaluation asked of a model through its declared capabilities.

- every model: nothing here (sample quality metrics live in ``compare.py``);
- ``can_encode``: reconstruction MSE in [0, 1] pixel units on the test images;
- ``has_likelihood``: test negative log-likelihood in nats per image and bits per dimension (a
  colouriser's conditional density: bits per colour dimension, ``bits_label``)
  (``nll_is_bound`` = 1 when the figure is an upper bound: the VAE's IWAE estimate, Glow's
  dequantised one-sample figure; the model's ``likelihood_kind`` says which, in words).
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from zoo.data.base import ImageDataset
from zoo.models.base import GenerativeModel
from zoo.options import Count, Options, Seed
from zoo.progress import Progress


class EvalConfig(Options):
    """``eval.*``: the held-out evaluation at the end of training."""

    n_test: Count | None = 2000  # None: the whole test split
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 250
    seed: Seed = 0


@torch.no_grad()
def evaluate(
    model: GenerativeModel,
    test: ImageDataset,
    cfg: EvalConfig,
    device: torch.device,
    progress: bool = False,
    what: str = "evaluating on the test images",
    reconstructions: bool = True,
) -> dict[str, float]:
    """Reconstruction error (unless ``reconstructions`` is False) and likelihood on the first
    ``cfg.n_test`` test images; a bar when ``progress``, otherwise a log line every 30 s."""
    reconstructs = model.can_encode and reconstructions
    if not (reconstructs or model.has_likelihood):
        return {}
    n = len(test) if cfg.n_test is None else min(cfg.n_test, len(test))
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    sq_err, nll, count = 0.0, 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with Progress(n, what, "images", bar=progress) as bar:
            for start in range(0, n, cfg.batch_size):
                x, y = (t.to(device) for t in test.batch(torch.arange(start, min(start + cfg.batch_size, n))))
                if reconstructs:
                    sq_err += (model.reconstruct(x, y) - x).pow(2).flatten(1).mean(1).sum().item()
                if model.has_likelihood:
                    nll += model.nll(x, generator=generator, y=y).sum().item()
                count += len(x)
                bar.update(len(x))
    finally:
        model.train(was_training)
    results: dict[str, float] = {"test/images": float(count)}
    if reconstructs:
        results["test/recon_mse"] = sq_err / count
    if model.has_likelihood:
        results["test/nll_nats"] = nll / count
        results[f"test/{model.bits_label}"] = float(model.bits_per_dim(torch.tensor(nll / count)))
        results["test/nll_is_bound"] = float(model.likelihood_is_bound)
    return results
