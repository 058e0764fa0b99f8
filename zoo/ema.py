"""Exponential moving average of a model's generator-side weights.

Averaging the generator's weights over training (Karras et al. 2018; Yazici et al. 2019) gives
visibly steadier samples for GANs. The model names the sub-networks to average
(``ema_modules``); the trainer keeps the shadow copy, swaps it in for sampling and evaluation, and
saves it in checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, module_names: tuple[str, ...], decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.prefixes = tuple(f"{name}." for name in module_names)
        self.shadow = {k: v.detach().clone() for k, v in self._tracked(model).items()}

    def _tracked(self, model: nn.Module) -> dict[str, torch.Tensor]:
        return {k: v for k, v in model.state_dict().items() if k.startswith(self.prefixes)}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in self._tracked(model).items():
            average = self.shadow[key]
            if value.dtype.is_floating_point:
                average.lerp_(value.detach(), 1.0 - self.decay)
            else:  # integer buffers such as BatchNorm's step counter
                average.copy_(value)

    @contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[None]:
        """Run the block with the averaged weights in ``model``, then restore the trained ones."""
        live = {k: v.clone() for k, v in self._tracked(model).items()}
        model.load_state_dict(self.shadow, strict=False)
        try:
            yield
        finally:
            model.load_state_dict(live, strict=False)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:3]}")
        for key in self.shadow:
            self.shadow[key].copy_(state[key])
