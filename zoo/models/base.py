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
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from zoo import distributed
from zoo.data.base import DataInfo
from zoo.errors import NonFiniteLossError, ZooError


class Stepper:
    """Turns a loss into a parameter update; the trainer configures it (AMP scaler, clipping, what
    to do with a non-finite loss).

    The non-finite check happens before ``backward`` so that a NaN never reaches the weights. Under
    ``torchrun`` the check is agreed by every process and gradients are averaged across processes
    before each optimizer steps (``zoo.distributed``).

    ``nan_policy``: ``stop`` raises ``NonFiniteLossError``; ``skip`` drops that update (no backward,
    no optimizer step) and counts it, and the trainer counts the batch as skipped.
    """

    def __init__(
        self, scaler: torch.amp.GradScaler | None = None, grad_clip: float | None = None, nan_policy: str = "stop"
    ):
        if nan_policy not in ("stop", "skip"):
            raise ZooError(f"trainer.nan_policy must be stop or skip, got '{nan_policy}'")
        self.scaler = scaler if scaler is not None else torch.amp.GradScaler("cpu", enabled=False)
        self.grad_clip = grad_clip
        self.nan_policy = nan_policy
        self.skipped_updates = 0  # updates dropped in the current batch (nan_policy=skip)

    def _non_finite(self, losses: dict[str, torch.Tensor]) -> bool:
        """True (on every rank) when a loss is NaN/inf; raises under ``stop``."""
        bad = [term for term, loss in losses.items() if not torch.isfinite(loss.detach())]
        if not distributed.any_rank(bool(bad), next(iter(losses.values())).device):
            return False
        if self.nan_policy == "stop":
            term = bad[0] if bad else f"{'/'.join(losses)} (on another process)"
            value = float(losses[bad[0]].detach()) if bad else float("nan")
            raise NonFiniteLossError(term, value)
        self.skipped_updates += 1
        return True

    def _update(self, optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
        distributed.average_gradients(params)
        if self.grad_clip:
            self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.scaler.step(optimizer)

    def step(
        self, loss: torch.Tensor, optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer], term: str
    ) -> None:
        """One backward pass of ``loss``, then a step of each optimizer (several networks updated by
        one loss, e.g. ALAE's encoder and discriminator)."""
        if self._non_finite({term: loss}):
            return
        optimizers = [optimizer] if isinstance(optimizer, torch.optim.Optimizer) else list(optimizer)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for opt in optimizers:
            self._update(opt, [p for group in opt.param_groups for p in group["params"]])
        self.scaler.update()

    def step_jointly(self, losses: dict[str, tuple[torch.Tensor, torch.optim.Optimizer]]) -> None:
        """Several optimizers, each minimising its own loss, from one shared forward graph.

        Each loss's gradient reaches only its own optimizer's parameters, and every gradient is
        taken before any parameter changes (alpha-GAN: the encoder's and the generator's losses
        share the reconstruction term but must not leak into each other's updates)."""
        if self._non_finite({term: loss for term, (loss, _) in losses.items()}):
            return
        pending = []
        for i, (loss, optimizer) in enumerate(losses.values()):
            params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
            grads = torch.autograd.grad(
                self.scaler.scale(loss), params, retain_graph=i < len(losses) - 1, allow_unused=True
            )
            pending.append((optimizer, params, grads))
        for optimizer, params, grads in pending:
            optimizer.zero_grad(set_to_none=True)
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            self._update(optimizer, params)
        self.scaler.update()  # after every optimizer: their gradients were all scaled by the same factor

    def end_iteration(self) -> int:
        """Called once per batch; returns how many updates of this batch were dropped as non-finite."""
        skipped, self.skipped_updates = self.skipped_updates, 0
        return skipped


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
    # the smallest options that still build every network and take every code path: the contract
    # tests (tests/models/test_contract.py) and the command-line tests train the model with them
    tiny: ClassVar[dict[str, Any]] = {}

    def __init__(self, info: DataInfo):
        super().__init__()
        self.info = info
        self.stepper = Stepper()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def likelihood_data(self) -> str:
        """What the likelihood is a density of; bits/dim compare only between models that agree here."""
        return "8-bit pixels"

    # -- what each model implements ------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers (e.g. {"generator": ..., "discriminator": ...})."""
        raise NotImplementedError

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One update on a batch of images ``x`` (B, C, H, W) in [0, 1] with labels ``y``."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot encode")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} cannot decode")

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """decode(encode(x)); ``y``: labels, for class-conditional models."""
        return self.decode(self.encode(x, y), y)

    def nll(
        self, x: torch.Tensor, generator: torch.Generator | None = None, y: torch.Tensor | None = None, **kwargs
    ) -> torch.Tensor:
        """Per-image negative log-likelihood in nats (B,); ``y``: labels, for class-conditional models."""
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
