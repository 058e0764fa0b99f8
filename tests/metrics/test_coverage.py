"""Coverage: improved precision and recall (Kynkäänniemi et al. 2019) on constructed sets, and the
class histogram of the samples."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.metrics.coverage import class_coverage, precision_recall


def cluster(centre: float, n: int, seed: int) -> torch.Tensor:
    return centre + 0.1 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


def test_identical_sets_have_full_precision_and_recall():
    x = cluster(0.0, 200, 0)
    assert precision_recall(x, x.clone()) == {"precision": 1.0, "recall": 1.0}


def test_a_model_that_draws_one_of_two_modes_is_precise_but_misses_half():
    real = torch.cat([cluster(0.0, 200, 0), cluster(5.0, 200, 1)])
    collapsed = cluster(0.0, 400, 2)  # every sample from the first mode
    result = precision_recall(real, collapsed)
    assert result["precision"] > 0.9
    assert 0.35 < result["recall"] < 0.55


def test_samples_far_from_the_data_have_no_precision_and_no_recall():
    assert precision_recall(cluster(0.0, 100, 0), cluster(50.0, 100, 1)) == {"precision": 0.0, "recall": 0.0}


def test_class_histogram_matching_the_data_covers_every_class_with_no_divergence():
    labels = torch.arange(4).repeat(250)
    result = class_coverage(labels.clone(), labels, 4)
    assert result["classes_covered"] == 1.0
    assert result["class_kl"] == pytest.approx(0.0, abs=1e-9)


def test_collapse_onto_one_class_covers_one_class_in_four():
    labels = torch.arange(4).repeat(250)
    result = class_coverage(torch.zeros(1000, dtype=torch.long), labels, 4)
    assert result["classes_covered"] == 0.25
    smoothed = torch.tensor([1001.0, 1.0, 1.0, 1.0]) / 1004
    assert result["class_kl"] == pytest.approx(float((smoothed * (smoothed / 0.25).log()).sum()))
    assert result["class_kl"] > 0.9 * math.log(4)
