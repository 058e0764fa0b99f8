"""No long phase is silent: a bar in a terminal, otherwise a log line at least every 30 s saying how
far it is and about how long is left (the final evaluation, compare's sampling and scoring, feature
networks, decoding a folder)."""

from __future__ import annotations

import logging

import torch

import zoo.progress
from tests.helpers import tiny_bundle, tiny_model
from zoo.evaluation import EvalConfig, evaluate
from zoo.metrics.features import embed
from zoo.progress import Progress, duration


def test_durations_read_as_a_person_would_say_them():
    assert [duration(s) for s in (0.4, 42, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]


def test_without_a_terminal_a_line_is_logged_once_the_interval_has_passed(monkeypatch, caplog):
    clock = iter([0.0, 10.0, 31.0, 40.0, 62.0])  # the start, then one reading per update
    monkeypatch.setattr(zoo.progress.time, "monotonic", lambda: next(clock))
    with caplog.at_level(logging.INFO, logger="zoo"), Progress(400, "evaluating", "images") as progress:
        for _ in range(4):
            progress.update(100)
    assert [r.getMessage() for r in caplog.records] == ["evaluating: 200/400 images in 31s, about 31s left"]


def test_a_bar_in_a_terminal_logs_nothing(monkeypatch, caplog):
    monkeypatch.setattr(zoo.progress, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="zoo"), Progress(4, "sampling", "samples", bar=True) as progress:
        for _ in range(3):
            progress.update(1)
    assert caplog.records == []


def test_the_final_evaluation_and_feature_passes_say_how_far_they_are(monkeypatch, caplog):
    monkeypatch.setattr(zoo.progress, "LOG_EVERY_S", 0.0)  # a line at every batch but the last
    data = tiny_bundle(n_test=64)
    model = tiny_model("vae", data.info).eval()
    with caplog.at_level(logging.INFO, logger="zoo"):
        evaluate(model, data.test, EvalConfig(n_test=64, batch_size=16), torch.device("cpu"))
        embed(lambda x: x.flatten(1), torch.rand(30, 1, 4, 4), batch_size=10, desc="zoo features")
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" in ")[0] for line in lines] == [
        "evaluating on the test images: 16/64 images",
        "evaluating on the test images: 32/64 images",
        "evaluating on the test images: 48/64 images",
        "zoo features: 10/30 images",
        "zoo features: 20/30 images",
    ]
