"""Every model trains under bfloat16 autocast: the path `trainer.precision=bf16` takes on a GPU.

CPU autocast casts a different (smaller) set of ops than CUDA autocast, so this does not replace a GPU
check; it catches what both share: convolutions and linear layers returning bf16 into code that mixes
them with float32 buffers (ALAE's running mean of w once failed exactly so).
"""

import math

import pytest
import torch

from tests.helpers import TINY, tiny_data_for, tiny_model
from zoo.optim import Stepper


def first_step(name: str, dtype: torch.dtype | None) -> tuple[dict[str, float], set[torch.dtype], torch.nn.Module]:
    """Metrics of one training step from a fixed seed, and the dtypes the model's layers returned."""
    torch.manual_seed(0)
    data = tiny_data_for(name)
    model = tiny_model(name, data.info)
    stepper = Stepper(model, autocast=torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None))
    model.train()
    seen: set[torch.dtype] = set()
    for layer in model.modules():  # the models' own layers too (ALAE's equalised-learning-rate ones)
        layer.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if torch.is_tensor(out) else None)
    x, y = data.train.batch(torch.arange(16))
    metrics = {k: float(v) for k, v in stepper.train_batch(x, y, 1).items()}
    return metrics, seen, model


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_bf16_autocast_step_matches_float32_and_keeps_float32_weights(name):
    full, full_dtypes, _ = first_step(name, None)
    half, half_dtypes, model = first_step(name, torch.bfloat16)

    assert torch.bfloat16 not in full_dtypes
    assert torch.bfloat16 in half_dtypes  # autocast really ran the layers in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay float32
    assert all(torch.isfinite(p).all() for p in model.parameters())
    for term, value in full.items():
        # bf16 keeps ~3 significant digits; through a few layers the loss moves by well under 5%
        assert half[term] == pytest.approx(value, rel=0.05, abs=0.02), term


@pytest.mark.parametrize("name", sorted(TINY))
def test_fp16_with_a_grad_scaler_and_clipping_trains_models_that_step_an_optimizer_twice_per_batch(name):
    """fp16 needs GradScaler, which allows one step per optimizer between its updates: ALAE steps
    its encoder twice per batch and alpha-GAN its generator twice, so the stepper updates the scaler
    after every step (it once raised "unscale_() is being called after step()")."""
    torch.manual_seed(0)
    data = tiny_data_for(name)
    model = tiny_model(name, data.info)
    stepper = Stepper(
        model,
        torch.amp.GradScaler("cpu", init_scale=2.0**16),
        grad_clip=1.0,
        autocast=torch.autocast("cpu", dtype=torch.float16),
    )
    before = [p.detach().clone() for p in model.parameters()]
    x, y = data.train.batch(torch.arange(16))
    for step in range(1, 9):  # the first steps may overflow and be skipped while the scaler finds its scale
        metrics = stepper.train_batch(x, y, step)

    assert all(math.isfinite(float(v)) for v in metrics.values())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))  # it learned
    assert 0 < stepper.scaler.get_scale() < float("inf")
