"""How many images enter the Inception columns: every sample on CUDA, a CPU-sized N otherwise, never
more than there are samples; samples with NaN or infinite pixels are counted and scored as drawn."""

from __future__ import annotations

import torch

from zoo.compare import CompareOptions
from zoo.compare.options import MetricOptions
from zoo.compare.reference import CPU_INCEPTION_SAMPLES, Reference, for_device, inception_samples
from zoo.compare.scoring import finite_samples, sample_quality


def options(**metrics) -> CompareOptions:
    return CompareOptions.model_validate({"n_samples": 10_000, "metrics": metrics})


def test_auto_is_every_sample_on_cuda_and_a_cpu_budget_on_a_cpu():
    assert inception_samples(for_device(options(), torch.device("cuda"))) == 10_000
    assert inception_samples(for_device(options(), torch.device("cpu"))) == CPU_INCEPTION_SAMPLES == 500


def test_a_given_n_is_used_on_any_device_but_never_exceeds_the_samples():
    assert inception_samples(for_device(options(inception_samples=2000), torch.device("cpu"))) == 2000
    assert inception_samples(for_device(options(inception_samples=50_000), torch.device("cuda"))) == 10_000


def test_non_finite_samples_are_counted_and_drawn_as_a_grid_draws_them():
    samples = torch.rand(5, 1, 4, 4)
    samples[1, 0, 0, 0] = float("nan")
    samples[3, 0, 2, 1] = float("inf")
    samples[3, 0, 1, 1] = -float("inf")
    fixed, failed = finite_samples(samples)
    assert failed == 2 and torch.isfinite(fixed).all()
    assert fixed[1, 0, 0, 0] == 0 and fixed[3, 0, 2, 1] == 1 and fixed[3, 0, 1, 1] == 0
    assert torch.equal(fixed[[0, 2, 4]], samples[[0, 2, 4]])  # the good ones untouched


def test_a_training_split_smaller_than_the_samples_is_scored_on_what_it_holds():
    """Flowers-102 at 95% holds 7,586 training images against 10,000 samples: SWD pairs as many as there are."""
    g = torch.Generator().manual_seed(0)
    ref = Reference(
        train_images=torch.rand(24, 3, 16, 16, generator=g),
        test_images=torch.rand(16, 3, 16, 16, generator=g),
        test_labels=torch.zeros(16, dtype=torch.long),
        spaces=[],
        train_features={},
        unavailable={},
        data_key="",
        sizes={},
    )
    opts = MetricOptions(swd_patches_per_image=2, critic_steps=2, critic_batch_size=4)
    row = sample_quality(torch.rand(40, 3, 16, 16, generator=g), ref, opts, seed=0, num_classes=0)
    assert row["swd_x1e3"] > 0 and isinstance(row["neg_wasserstein"], float)
