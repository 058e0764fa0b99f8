"""Flags of one-time events (ActNorm's data-dependent initialisation, an output bias set from the
first batch): saved with the weights as a bool buffer, so that a resumed run does not redo them,
and asked on the host, so that a training step never waits for the GPU to answer whether.

    saved_flag(self, "initialized")      # in __init__: the buffer and its host copy
    if not flag_is_set(self, "initialized"): ... ; set_flag(self, "initialized")
"""

from __future__ import annotations

import torch
from torch import nn


def saved_flag(module: nn.Module, name: str) -> None:
    """Register the bool buffer ``name`` (False) and its host copy, which loading a state dict updates."""
    module.register_buffer(name, torch.tensor(False))
    if not hasattr(module, "host_flags"):
        module.host_flags = {}

        def copy_to_host(mod: nn.Module, _incompatible) -> None:
            for flag in mod.host_flags:
                mod.host_flags[flag] = bool(getattr(mod, flag))  # one read, when loading

        module.register_load_state_dict_post_hook(copy_to_host)
    module.host_flags[name] = False


def flag_is_set(module: nn.Module, name: str) -> bool:
    return module.host_flags[name]


def set_flag(module: nn.Module, name: str) -> None:
    getattr(module, name).fill_(True)
    module.host_flags[name] = True
