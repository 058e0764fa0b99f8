"""Feature spaces: genzoo's own network is trained once per data set and then read from the cache
(the Inception space is specified in ``test_inception.py``)."""

from __future__ import annotations

import dataclasses

import torch

from tests.helpers import tiny_bundle
from zoo.metrics.features import embed, zoo_space


def test_zoo_classifier_is_trained_cached_and_read_back(tmp_path):
    data = tiny_bundle(n_train=256, n_test=64)
    first = zoo_space(data.train, data.test, data.info, tmp_path, steps=60, batch_size=32)
    cached = list(tmp_path.glob("featurenet-tiny-256-16px-classes-seed0-steps60-batch32.pt"))
    assert len(cached) == 1
    assert first.classify is not None and first.accuracy > 0.8  # left/right square: easy
    assert "classifier" in first.label and "not comparable with Inception" in first.label

    second = zoo_space(data.train, data.test, data.info, tmp_path, steps=60, batch_size=32)
    x, _ = data.test.first(16)
    assert torch.equal(embed(first.extract, x), embed(second.extract, x))
    assert embed(first.extract, x).shape == (16, 128)


def test_unlabelled_data_gets_a_rotation_network(tmp_path):
    data = tiny_bundle()
    unlabelled = dataclasses.replace(data.info, num_classes=0, class_names=())
    space = zoo_space(data.train, data.test, unlabelled, tmp_path, steps=5, batch_size=16)
    assert space.classify is None and "rotation" in space.label
    assert list(tmp_path.glob("*-rotation-*.pt"))
