"""The shared trainer: resume continues the same run bit for bit, a NaN stops training without
touching the last good checkpoint, EMA, clipping, budgets, grids and evaluation by capability."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.helpers import Params, tiny_bundle
from zoo.checkpoint import load_checkpoint
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig
from zoo.models.dcgan import DCGAN
from zoo.models.vae import VAE
from zoo.optim import Stepper
from zoo.runs import read_status
from zoo.tracking import Tracker
from zoo.trainer import Trainer, TrainerConfig


def make_trainer(tmp_path: Path, model_cls=DCGAN, seed: int = 0, **options) -> Trainer:
    torch.manual_seed(seed)
    data = tiny_bundle(size=16)
    model = model_cls(data.info, latent_dim=4, width=4, **({"hidden": 16, "iw_samples": 2} if model_cls is VAE else {}))
    cfg = TrainerConfig(
        **(
            {
                "batch_size": 16,
                "log_every": 2,
                "sample_every": 1000,
                "checkpoint_every": 1000,
                "progress": False,
                "n_samples": 4,
            }
            | options
        )
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = Tracker("disabled", "test", run_dir, "t", "g", [], {})
    return Trainer(
        model,
        data,
        cfg,
        run_dir,
        tracker,
        seed,
        EvalConfig(n_test=16, batch_size=16),
        {"model": {"name": model_cls.__name__.lower()}},
    )


def params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_a_resumed_run_is_the_same_run(tmp_path):
    """Train 6 steps straight; or 3 steps, checkpoint, a fresh process state, resume to 6: identical weights."""
    straight = make_trainer(tmp_path / "a", max_steps=6)
    straight.fit()

    first = make_trainer(tmp_path / "b", max_steps=3)
    first.fit()
    state = load_checkpoint(first.checkpoint_path)
    assert state["step"] == 3
    torch.manual_seed(999)  # the resumed process starts from other random state; the checkpoint must restore it
    resumed = make_trainer(tmp_path / "b", seed=0, max_steps=6)
    resumed.load_state_dict(state)
    resumed.fit()

    a, b = params(straight), params(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.step == 6 and resumed.images_seen == 6 * 16


def test_resume_restores_optimizer_state(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=2)
    trainer.fit()
    state = load_checkpoint(trainer.checkpoint_path)
    fresh = make_trainer(tmp_path, max_steps=2)
    fresh.load_state_dict(state)
    for name, opt in fresh.stepper.optimizers.items():
        exp_avg = [s["exp_avg"] for s in opt.state.values()]
        assert exp_avg and all(t.abs().sum() > 0 for t in exp_avg), name


class NaNAfter(DCGAN):
    """A DCGAN whose generator loss becomes NaN from the 5th step on."""

    def train_step(self, x, y):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls >= 5:
            self.optimize(torch.tensor(float("nan"), requires_grad=True), "generator")
        return super().train_step(x, y)


def test_nan_stops_with_the_step_and_term_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, model_cls=NaNAfter, max_steps=50, checkpoint_every=2)
    with pytest.raises(ZooError) as err:
        trainer.fit()
    message = str(err.value)
    assert "loss term 'generator loss' is nan at step 5" in message
    assert "last good checkpoint (step 4)" in message and "trainer.grad_clip" in message
    state = load_checkpoint(trainer.checkpoint_path)
    assert state["step"] == 4 and not state["finished"]
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert read_status(trainer.run_dir)["status"] == "failed"


def test_non_finite_metric_returned_by_a_model_also_stops_at_the_next_log_line(tmp_path):
    """Logged values are read from the device once per log window (log_every=2 here), so a bad
    metric whose losses were finite stops the run there; a bad loss stops it before its update
    (test_nan.py)."""

    class Reports(DCGAN):
        def train_step(self, x, y):
            return super().train_step(x, y) | {"loss_d": torch.tensor(float("inf"))}

    with pytest.raises(ZooError, match=r"loss term 'loss_d \(logged over the steps up to this one\)' is inf at step 2"):
        make_trainer(tmp_path, model_cls=Reports, max_steps=3).fit()


def test_stepper_clips_the_gradient_norm():
    layer = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.0)
    Stepper(Params(x=opt), grad_clip=0.5).step(layer(torch.full((8, 4), 100.0)).sum(), ["x"], "x")
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in layer.parameters()))
    assert norm.item() == pytest.approx(0.5, rel=1e-4)


def test_stepper_refuses_a_nan_loss_before_it_reaches_the_weights():
    layer = torch.nn.Linear(2, 1)
    before = layer.weight.clone()
    with pytest.raises(ZooError, match=r"is nan"):
        stepper = Stepper(Params(x=torch.optim.SGD(layer.parameters(), lr=1.0)))
        stepper.step(layer(torch.full((1, 2), float("nan"))).sum(), ["x"], "x")
    assert torch.equal(layer.weight, before)


def test_ema_averages_the_generator_and_is_swapped_in_only_for_sampling(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=5, ema_decay=0.5)
    trainer.fit()
    live = trainer.model.generator.net[0].weight.clone()
    shadow = trainer.ema.shadow["generator.net.0.weight"]
    assert not torch.equal(live, shadow)
    with trainer.ema.swapped_in(trainer.model):
        assert torch.equal(trainer.model.generator.net[0].weight, shadow)
    assert torch.equal(trainer.model.generator.net[0].weight, live)
    assert not any(k.startswith("discriminator") for k in trainer.ema.shadow)
    assert load_checkpoint(trainer.checkpoint_path)["ema"]["generator.net.0.weight"].equal(shadow)


def test_time_budget_ends_the_run_early_and_finishes_it(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=10_000, max_minutes=0.02)
    trainer.fit()
    assert 0 < trainer.step < 10_000
    assert read_status(trainer.run_dir)["status"] == "finished"


def test_outputs_of_a_run(tmp_path):
    trainer = make_trainer(tmp_path, model_cls=VAE, max_steps=4, sample_every=2, checkpoint_every=2)
    results = trainer.fit()
    run = trainer.run_dir
    assert (run / "samples" / "step_2.png").is_file() and (run / "samples" / "step_4.png").is_file()
    assert (run / "recons" / "step_4.png").is_file()  # the VAE can encode
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 4]
    assert {"train/loss", "train/elbo", "train/images_per_s"} <= set(rows[0])
    assert rows[-1]["test/nll_nats"] == results["test/nll_nats"] and results["test/nll_is_bound"] == 1.0
    assert json.loads((run / "eval.json").read_text())["test/bits_per_dim"] == pytest.approx(
        results["test/bits_per_dim"]
    )
    assert load_checkpoint(run / "checkpoints" / "last.pt")["finished"] is True


def test_a_model_without_encoder_or_likelihood_gets_no_such_numbers(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=2)
    results = trainer.fit()
    assert not any(k.startswith("test/") for k in results)
    assert not (trainer.run_dir / "recons").exists()


def test_mixed_precision_choices_need_cuda(tmp_path):
    with pytest.raises(ZooError, match=r"trainer.precision=fp16 needs a CUDA device"):
        make_trainer(tmp_path, precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(ZooError, match=r"CUDA is not available"):
            make_trainer(tmp_path, device="cuda")


def test_sync_batchnorm_on_a_cpu_is_refused_even_in_one_process(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device would take it")
    with pytest.raises(ZooError, match=r"trainer.sync_batchnorm needs CUDA"):
        make_trainer(tmp_path, sync_batchnorm=True)


def test_channels_last_trains_the_same_weights(tmp_path):
    """A memory layout, not a different computation: 3 steps agree with the default layout up to
    float rounding of differently ordered convolution sums."""
    plain = make_trainer(tmp_path / "a", max_steps=3)
    plain.fit()
    nhwc = make_trainer(tmp_path / "b", max_steps=3, channels_last=True)
    nhwc.fit()
    conv = nhwc.model.generator.net[0].weight
    assert conv.ndim == 4 and conv.is_contiguous(memory_format=torch.channels_last)
    for (name, a), b in zip(plain.model.state_dict().items(), nhwc.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
