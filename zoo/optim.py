"""How a loss becomes a parameter update: the trainer's side of the model contract.

A model calls ``self.optimize(loss, "generator")``; the ``Stepper`` attached to it does the
rest: the non-finite check before ``backward`` (so a NaN never reaches the weights), the AMP
gradient scaler, the gradient average over processes under ``torchrun``, clipping and the
optimizer step. ``NonFiniteGuard`` is the one place NaN/inf is handled: what ``nan_policy`` does
with a bad loss, how skipped batches are counted, when skipping gives up.

The check costs one host-device synchronisation per update: the price of never applying a NaN
update. Everything a model logs stays on the device until ``LogWindow`` reads it, once per
``trainer.log_every`` steps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from zoo import distributed
from zoo.errors import NonFiniteLossError, ZooError

if TYPE_CHECKING:
    from zoo.models.base import GenerativeModel

log = logging.getLogger(__name__)


class NonFiniteGuard:
    """``nan_policy``: ``stop`` raises ``NonFiniteLossError`` at the first NaN/inf loss; ``skip``
    drops that update (no backward, no step), counts the batch as skipped, and gives up after
    ``max_in_a_row`` skipped batches in a row."""

    def __init__(self, policy: str = "stop", max_in_a_row: int = 100):
        if policy not in ("stop", "skip"):
            raise ZooError(f"trainer.nan_policy must be stop or skip, got '{policy}'")
        self.policy, self.max_in_a_row = policy, max_in_a_row
        self.skipped_steps = 0  # batches with a dropped update, over the run's life
        self._in_a_row = 0
        self._dropped: list[str] = []  # loss terms dropped in the current batch

    def drops(self, losses: dict[str, torch.Tensor]) -> bool:
        """Before ``backward``: True (on every rank) when a loss is NaN/inf and the update is to be
        dropped; raises under ``stop``."""
        bad = [term for term, loss in losses.items() if not torch.isfinite(loss.detach())]
        if not distributed.any_rank(bool(bad), next(iter(losses.values())).device):
            return False
        term = bad[0] if bad else f"{'/'.join(losses)} (on another process)"
        if self.policy == "stop":
            raise NonFiniteLossError(term, float(losses[bad[0]].detach()) if bad else float("nan"))
        self._dropped.append(term)
        return True

    def end_batch(self, step: int) -> bool:
        """After each batch: whether an update of it was dropped (then the batch is left out of the
        logged means), counting it; raises after ``max_in_a_row`` such batches in a row."""
        dropped, self._dropped = self._dropped, []
        if not dropped:
            self._in_a_row = 0
            return False
        self.skipped_steps += 1
        self._in_a_row += 1
        log.warning("step %d: non-finite %s, update dropped (%d skipped so far)", step, dropped[0], self.skipped_steps)
        if self._in_a_row >= self.max_in_a_row:
            raise NonFiniteLossError(
                f"{dropped[0]} ({self._in_a_row} batches in a row skipped under nan_policy=skip)", float("nan"), step
            )
        return True

    def check_means(self, means: dict[str, float], step: int) -> None:
        """A logged value that is not finite although every loss was (a metric computed apart from
        the losses): under ``stop`` the run ends naming it; under ``skip`` it is logged as it is."""
        bad = [name for name, value in means.items() if not math.isfinite(value)]
        if bad and self.policy == "stop":
            raise NonFiniteLossError(f"{bad[0]} (logged over the steps up to this one)", means[bad[0]], step)


class LinearWarmup:
    """The learning rate of one optimizer, rising linearly from ``1 / steps`` of its base value to
    the base value over its first ``steps`` updates (the warm-up a model declares in
    ``GenerativeModel.lr_warmup``; Glow, Kingma & Dhariwal 2018, and the cINN use it)."""

    def __init__(self, optimizer: torch.optim.Optimizer, steps: int):
        self.optimizer, self.steps = optimizer, steps
        self.base = [group["lr"] for group in optimizer.param_groups]
        self.taken = 0  # updates applied so far
        self._apply()

    def _apply(self) -> None:
        factor = min(1.0, (self.taken + 1) / max(1, self.steps))
        for group, lr in zip(self.optimizer.param_groups, self.base, strict=True):
            group["lr"] = lr * factor

    def step(self) -> None:
        """After an update of its optimizer."""
        self.taken += 1
        self._apply()

    def state_dict(self) -> dict[str, int]:
        return {"taken": self.taken}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.taken = int(state["taken"])
        self._apply()


class Stepper:
    """The optimizer side of the model contract: the one way a batch becomes parameter updates,
    for the trainer and the tests alike.

    ``Stepper(model, ...)`` builds the model's optimizers (``configure_optimizers``) and its
    learning-rate warm-up (``lr_warmup``), and attaches itself to the model, whose
    ``optimize(loss, "generator")`` calls come back here: the non-finite check before ``backward``
    (so a NaN never reaches the weights), the AMP gradient scaler, the gradient average over
    processes under ``torchrun``, clipping, the optimizer step and the warm-up. ``train_batch``
    runs one ``train_step`` under autocast and closes the batch with the guard."""

    def __init__(
        self,
        model: GenerativeModel,
        scaler: torch.amp.GradScaler | None = None,
        grad_clip: float | None = None,
        guard: NonFiniteGuard | None = None,
        autocast: torch.autocast | None = None,
    ):
        self.model = model
        self.scaler = scaler if scaler is not None else torch.amp.GradScaler("cpu", enabled=False)
        self.grad_clip = grad_clip
        self.guard = guard or NonFiniteGuard()
        self.autocast = autocast if autocast is not None else contextlib.nullcontext()
        self.optimizers: dict[str, torch.optim.Optimizer] = model.configure_optimizers()
        self.warmups = {name: LinearWarmup(self.optimizers[name], n) for name, n in model.lr_warmup().items()}
        model.attach(self)

    # -- one batch -------------------------------------------------------------------------------
    def train_batch(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, torch.Tensor | float] | None:
        """The model's ``train_step`` on one batch (step number ``step``, counted from 1): what it
        logs, or None when an update of the batch was dropped (``nan_policy=skip``)."""
        try:
            with self.autocast:
                metrics = self.model.train_step(x, y)
        except NonFiniteLossError as e:
            e.step = step
            raise
        return None if self.guard.end_batch(step) else metrics

    # -- what the model's optimize() calls -------------------------------------------------------
    def _update(self, name: str, params: list[nn.Parameter]) -> None:
        optimizer = self.optimizers[name]
        distributed.average_gradients(params)
        if self.grad_clip:
            self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.scaler.step(optimizer)
        if name in self.warmups:
            self.warmups[name].step()

    def step(self, loss: torch.Tensor, names: Sequence[str], term: str) -> None:
        """One backward pass of ``loss``, then a step of each named optimizer (several networks
        updated by one loss, e.g. ALAE's encoder and discriminator)."""
        if self.guard.drops({term: loss}):
            return
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for name in names:
            self._update(name, [p for group in self.optimizers[name].param_groups for p in group["params"]])
        self.scaler.update()

    def step_jointly(self, losses: dict[str, torch.Tensor]) -> None:
        """Several optimizers (by name), each minimising its own loss, from one shared forward graph.

        Each loss's gradient reaches only its own optimizer's parameters, and every gradient is
        taken before any parameter changes (alpha-GAN: the encoder's and the generator's losses
        share the reconstruction term but must not leak into each other's updates)."""
        if self.guard.drops({f"{name} loss": loss for name, loss in losses.items()}):
            return
        pending = []
        for i, (name, loss) in enumerate(losses.items()):
            params = [p for group in self.optimizers[name].param_groups for p in group["params"] if p.requires_grad]
            grads = torch.autograd.grad(
                self.scaler.scale(loss), params, retain_graph=i < len(losses) - 1, allow_unused=True
            )
            pending.append((name, params, grads))
        for name, params, grads in pending:
            self.optimizers[name].zero_grad(set_to_none=True)
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            self._update(name, params)
        self.scaler.update()  # after every optimizer: their gradients were all scaled by the same factor

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "lr_warmup": {name: w.state_dict() for name, w in self.warmups.items()},
        }

    def load_state_dict(self, state: dict[str, Any], updates_so_far: int) -> None:
        """``updates_so_far``: the warm-up's position for a checkpoint written before the warm-up
        was saved (the model then counted one update per step)."""
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        saved = state.get("lr_warmup") or {}
        for name, warmup in self.warmups.items():
            warmup.load_state_dict(saved.get(name, {"taken": updates_so_far}))


class LogWindow:
    """What a model logged between two log lines, summed on the device: one transfer to the host
    (and, under ``torchrun``, one all-reduce) per window instead of one per value per step."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor | float] = {}
        self.count = self.images = 0
        self.start = time.perf_counter()

    def add(self, metrics: dict[str, torch.Tensor | float]) -> None:
        for name, value in metrics.items():
            value = value.detach().float() if torch.is_tensor(value) else float(value)
            self.sums[name] = self.sums[name] + value if name in self.sums else value
        self.count += 1

    def means(self, device: torch.device) -> tuple[dict[str, float], float]:
        """The mean of every logged value over the window's (global) batches, and its seconds."""
        names = sorted(self.sums)
        values = [torch.as_tensor(self.sums[k], dtype=torch.float32, device=device) for k in names]
        totals = (
            torch.stack([*values, torch.tensor(float(self.count), device=device)]).double().tolist()
            if names
            else [float(self.count)]
        )
        totals = distributed.sum_over_ranks(totals, device)  # every process's slice: means over the global batch
        count = max(totals[-1], 1.0)
        return {k: v / count for k, v in zip(names, totals[:-1], strict=True)}, time.perf_counter() - self.start
