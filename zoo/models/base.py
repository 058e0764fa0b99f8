"""The contract between a model and the shared trainer.

A model owns its networks and optimizers and knows how to take one training step; the trainer
owns everything around it (device, precision, clipping, checkpoints, logging, EMA, budgets) and
never asks which model it is training. What a model can do beyond sampling is declared as class
attributes, so the trainer and ``compare.py`` ask rather than guess:

- ``can_encode``: ``encode``/``decode``/``reconstruct`` are implemented;
- ``has_likelihood``: ``nll`` returns per-image negative log-likelihoods in nats;
  ``likelihood_is_bound`` says it is an upper bound (a VAE's IWAE bound, a dequantised flow's
  figure), and ``likelihood_kind`` says in words what kind of figure it is.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from zoo.data.base import DataInfo
from zoo.optim import Stepper


class GenerativeModel(nn.Module):
    """Base class of every genzoo model. Subclasses register with ``@MODELS.register(name)``."""

    can_encode: ClassVar[bool] = False
    has_likelihood: ClassVar[bool] = False
    likelihood_is_bound: ClassVar[bool] = False
    # how the figure relates to -log p(x), for reports: "exact", "upper bound", "... estimate of ..."
    likelihood_kind: ClassVar[str] = "exact"
    # decode(z) and prior(n) exist even without an encoder (a GAN's generator): compare.py can then
    # invert the model by optimising z per image (``invert_gan=true``)
    can_decode: ClassVar[bool] = False
    ema_modules: ClassVar[tuple[str, ...]] = ()  # sub-networks the trainer may average (generators)
    # class-conditional: encode/decode/sample take the label y, and callers must pass one
    conditional: bool = False
    # the smallest options that still build every network and take every code path: the contract
    # tests (tests/models/test_contract.py) and the command-line tests train the model with them
    tiny: ClassVar[dict[str, Any]] = {}

    def __init__(self, info: DataInfo):
        super().__init__()
        self.info = info
        self.stepper = Stepper()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def sample_temperature(self) -> float:
        """The temperature ``sample()`` draws at by default (a flow's < 1 changes every sample metric)."""
        return 1.0

    @property
    def likelihood_data(self) -> str:
        """What the likelihood is a density of; bits/dim compare only between models that agree here."""
        return "8-bit pixels"

    # -- what each model implements ------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers (e.g. {"generator": ..., "discriminator": ...})."""
        raise NotImplementedError

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor | float]:
        """One update on a batch of images ``x`` (B, C, H, W) in [0, 1] with labels ``y``; returns
        what to log, as detached 0-d tensors (the trainer reads them once per log window, so a step
        never waits for the device to report a number) or plain floats."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent codes from the prior, for ``decode`` (declared by ``can_decode``)."""
        raise NotImplementedError(f"{type(self).__name__} has no prior to decode from")

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot encode")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot decode")

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """decode(encode(x)); ``y``: labels, for class-conditional models."""
        return self.decode(self.encode(x, y), y)

    def nll(
        self, x: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-image negative log-likelihood in nats (B,); ``y``: labels, for class-conditional
        models. A model's own estimator settings (the VAE's importance samples) are its options."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    def extra_grids(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Further image grids the family is known for (e.g. several temperatures), by name; the
        trainer saves them as ``<name>/step_<N>.png`` and logs them. ``x``, ``y``: a fixed test batch."""
        return {}

    # -- a training schedule (progressive growing); the defaults mean "none" ---------------------
    def next_batch_size(self, default: int) -> int:
        """Batch size of the next step (``default``: the trainer's ``batch_size``)."""
        return default

    def phase_name(self) -> str | None:
        """Name of the current phase of a schedule (e.g. "res16"); when it changes, the trainer
        keeps the last checkpoint of the phase that ended as ``checkpoints/<name>.pt``."""
        return None

    def progress(self) -> dict[str, Any]:
        """Where the schedule stands (e.g. level and blend), recorded in checkpoints and status."""
        return {}

    # -- helpers -------------------------------------------------------------------------------
    def setup_optimizers(self) -> None:
        self.optimizers = self.configure_optimizers()

    def optimize(self, loss: torch.Tensor, *optimizers: str) -> None:
        """Backpropagate ``loss`` once and step the optimizer(s) of those names (through the
        trainer's stepper)."""
        self.stepper.step(loss, [self.optimizers[name] for name in optimizers], term=f"{'+'.join(optimizers)} loss")

    def optimize_jointly(self, losses: dict[str, torch.Tensor]) -> None:
        """Step several optimizers (by name) on their own losses from one forward pass."""
        self.stepper.step_jointly({f"{name} loss": (loss, self.optimizers[name]) for name, loss in losses.items()})

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def bits_per_dim(self, nll_nats: torch.Tensor) -> torch.Tensor:
        return nll_nats / (self.info.dims * math.log(2.0))


@contextlib.contextmanager
def frozen(*networks: nn.Module) -> Iterator[None]:
    """The networks' parameters take no gradient inside the block (e.g. the discriminator during
    the generator's update: it is on the loss's path but not its to update), and do again after."""
    params = [p for net in networks for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
