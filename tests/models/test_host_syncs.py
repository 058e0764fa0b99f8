"""No model reads a buffer back to the host in a training step once training runs: a counter,
flag or schedule position that decides Python control flow lives on the host (on a GPU every such
read waits for the device). The first step may read (ActNorm's data-dependent initialisation, a
colouriser's bank of grey images filling up)."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import TINY, tiny_data_for, tiny_model
from zoo.optim import Stepper

READS = ("__bool__", "__int__", "__float__", "__index__", "item", "tolist")


@pytest.fixture
def buffer_reads(monkeypatch):
    """Watch a model: every host read of one of its buffers (or a view of one) is recorded."""
    watched: list[torch.Tensor] = []
    reads: list[str] = []
    for name in READS:
        original = getattr(torch.Tensor, name)

        def read(self, *args, _original=original, _name=name):
            if any(self.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() for b in watched):
                reads.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, read)

    def watch(model: torch.nn.Module) -> list[str]:
        watched.extend(b for b in model.buffers() if b.numel())
        return reads

    return watch


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_training_step_reads_no_buffer_back_to_the_host(name, buffer_reads):
    torch.manual_seed(0)
    data = tiny_data_for(name)
    model = tiny_model(name, data.info)
    stepper = Stepper(model)
    x, y = data.train.batch(torch.arange(64))  # a colouriser's bank of 64 grey images fills at once
    model.train()
    stepper.train_batch(x, y, 1)
    reads = buffer_reads(model)
    for step in (2, 3):
        stepper.train_batch(x, y, step)
    assert reads == [], f"{name} read its buffers {len(reads)} times in two steps ({sorted(set(reads))})"
