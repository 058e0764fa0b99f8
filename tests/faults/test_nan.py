"""A NaN or inf injected into a loss: ``nan_policy=stop`` ends the run naming the step and the
loss term with the last good checkpoint untouched; ``nan_policy=skip`` drops the update, counts
it and goes on; with two processes, a NaN on one stops (or skips on) both, never a hang."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from tests.test_trainer import make_trainer
from zoo.checkpoint import load_checkpoint
from zoo.errors import ZooError
from zoo.models.dcgan import DCGAN
from zoo.options import check
from zoo.trainer import TrainerConfig


class NaNAt(DCGAN):
    """A DCGAN whose generator loss is NaN at the given (1-based) steps."""

    nan_steps: tuple[int, ...] = (5,)

    def train_step(self, x, y):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls in self.nan_steps:
            self.optimize(torch.tensor(float("nan"), requires_grad=True), "generator")
        return super().train_step(x, y)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stop_names_the_step_and_term_and_leaves_the_last_checkpoint_byte_for_byte(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, model_cls=NaNAt, max_steps=50, checkpoint_every=4)
    seen = {}
    original = trainer.save

    def save_and_remember(*args, **kwargs):
        original(*args, **kwargs)
        seen["digest"] = digest(trainer.checkpoint_path)

    monkeypatch.setattr(trainer, "save", save_and_remember)
    with pytest.raises(ZooError, match=r"loss term 'generator loss' is nan at step 5.*last good checkpoint \(step 4\)"):
        trainer.fit()
    assert digest(trainer.checkpoint_path) == seen["digest"]
    assert load_checkpoint(trainer.checkpoint_path)["step"] == 4


def test_skip_drops_the_bad_updates_counts_them_and_finishes(tmp_path):
    NaNAt.nan_steps = (3, 5)
    try:
        trainer = make_trainer(tmp_path, model_cls=NaNAt, max_steps=8, nan_policy="skip", log_every=1)
        trainer.fit()
    finally:
        NaNAt.nan_steps = (5,)
    state = load_checkpoint(trainer.checkpoint_path)
    assert state["finished"] and state["step"] == 8 and state["skipped_steps"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    rows = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[7]["train/skipped_steps"] == 2  # logged with the step's other numbers


def test_skip_gives_up_after_too_many_skipped_batches_in_a_row(tmp_path):
    NaNAt.nan_steps = tuple(range(3, 100))
    try:
        trainer = make_trainer(tmp_path, model_cls=NaNAt, max_steps=50, nan_policy="skip", max_skipped_in_a_row=4)
        with pytest.raises(ZooError, match=r"4 batches in a row skipped under nan_policy=skip.* at step 6"):
            trainer.fit()
    finally:
        NaNAt.nan_steps = (5,)


def test_an_unknown_policy_is_refused():
    with pytest.raises(ZooError, match=r"trainer\.nan_policy='ignore' is not valid: it should be 'stop' or 'skip'"):
        check(TrainerConfig, {"nan_policy": "ignore"}, "trainer.")


def test_a_nan_before_the_first_checkpoint_does_not_advise_resuming(tmp_path):
    NaNAt.nan_steps = (2,)
    try:
        trainer = make_trainer(tmp_path, model_cls=NaNAt, max_steps=50, checkpoint_every=4)
        with pytest.raises(ZooError) as err:
            trainer.fit()
    finally:
        NaNAt.nan_steps = (5,)
    message = str(err.value)
    assert "nothing to resume: start a new run" in message and "resume from it" not in message
    assert not trainer.checkpoint_path.exists()
