"""State that Python control flow reads every step but that must also be saved with the weights: a
one-time event (ActNorm's data-dependent initialisation, an output bias set from the first batch) or
a counter (ALAE's schedule position and lazy-R1 count). It lives on the host, so a training step never
waits for the GPU to answer, and is mirrored into a buffer, so checkpoints carry it; loading a state
dict copies the buffer back to the host (the only read).

    saved_on_host(self, "initialized", False)        # in __init__: the buffer and its host copy
    if not on_host(self, "initialized"): ... ; set_on_host(self, "initialized", True)
"""

from __future__ import annotations

import torch
from torch import nn


def saved_on_host(module: nn.Module, name: str, initial: bool | int) -> None:
    """Register the buffer ``name`` (a bool or an integer, ``initial``) and its host copy."""
    module.register_buffer(name, torch.tensor(initial, dtype=torch.bool if isinstance(initial, bool) else torch.long))
    if not hasattr(module, "host_state"):
        module.host_state = {}

        def copy_to_host(mod: nn.Module, _incompatible) -> None:
            for key, value in mod.host_state.items():
                mod.host_state[key] = type(value)(getattr(mod, key).item())  # one read, when loading

        module.register_load_state_dict_post_hook(copy_to_host)
    module.host_state[name] = initial


def on_host(module: nn.Module, name: str) -> bool | int:
    return module.host_state[name]


def set_on_host(module: nn.Module, name: str, value: bool | int) -> None:
    """Both copies; the buffer is written without being read, so the device is never waited for."""
    getattr(module, name).fill_(value)
    module.host_state[name] = value
