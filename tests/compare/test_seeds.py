"""Several seeds of one model: compare scores each seed's newest run and reports every figure's
mean and spread over the seeds, and says how many seeds a row has."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from tests.helpers import fast, fast_compare, run_compare, run_train
from zoo.compare.discovery import other_seeds
from zoo.compare.na import NA
from zoo.compare.report import markdown_table
from zoo.compare.scoring import over_seeds


def test_mean_and_spread_over_three_seeds():
    rows = [
        {"model": "vae", "run": "a", "step": 100, "fid_zoo": 10.0, "recon_mse": 0.1, "bits": NA("no likelihood")},
        {"model": "vae", "run": "b", "step": 100, "fid_zoo": 12.0, "recon_mse": 0.3, "bits": NA("no likelihood")},
        {"model": "vae", "run": "c", "step": 100, "fid_zoo": 14.0, "recon_mse": 0.2, "bits": NA("no likelihood")},
    ]
    row = over_seeds(rows)
    assert row["fid_zoo"] == pytest.approx(12.0) and row["fid_zoo_spread"] == pytest.approx(2.0)  # sample std
    assert row["recon_mse"] == pytest.approx(0.2) and row["recon_mse_spread"] == pytest.approx(0.1)
    assert row["seeds"] == 3 and row["run"] == "a, b, c"
    assert row["step"] == 100 and "step_spread" not in row  # describes the runs, is not measured
    assert row["bits"] == NA("no likelihood") and "bits_spread" not in row
    assert over_seeds(rows[:1]) == rows[0]  # one seed: the row as it is
    table = markdown_table([row], columns=[("model", "model", "{}"), ("FID zoo", "fid_zoo", "{:.2f}")])
    assert "| vae (3 seeds) | 12.00 ± 2.00 |" in table


def write_run(folder, seed: int, width: int = 4):
    folder.mkdir(parents=True)
    config = {
        "seed": seed,
        "model": {"name": "vae", "width": width},
        "data": {"name": "x"},
        "trainer": {"batch_size": 16},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_other_seeds_are_the_newest_run_of_each_seed_with_the_same_configuration(tmp_path):
    chosen = write_run(tmp_path / "5", seed=0)
    candidates = [
        chosen,
        write_run(tmp_path / "4", seed=1),
        write_run(tmp_path / "3", seed=1),  # an older run of seed 1: left out
        write_run(tmp_path / "2", seed=2, width=8),  # another configuration: left out
        write_run(tmp_path / "1", seed=0),  # the chosen seed again: left out
        write_run(tmp_path / "0", seed=3),
    ]
    assert other_seeds(chosen, candidates) == (tmp_path / "4", tmp_path / "0")


def test_compare_reports_a_model_trained_with_two_seeds_as_mean_and_spread(quickdraw_root, tmp_path):
    for model, seed in (("vae", 0), ("vae", 1), ("dcgan", 0)):
        assert run_train(*fast(quickdraw_root, model), f"seed={seed}", cwd=tmp_path).returncode == 0
    out = tmp_path / "cmp"
    result = run_compare(*fast_compare(quickdraw_root, out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {r["model"]: r for r in json.loads((out / "metrics.json").read_text())["rows"]}
    assert rows["vae"]["seeds"] == 2 and len(rows["vae"]["run"].split(", ")) == 2
    assert math.isfinite(rows["vae"]["fid_zoo_spread"]) and rows["vae"]["recon_mse_spread"] >= 0
    assert "seeds" not in rows["dcgan"] and "fid_zoo_spread" not in rows["dcgan"]
    report = (out / "report.md").read_text()
    assert "| vae (2 seeds) |" in report and " ± " in report and "sample standard deviation over the seeds" in report
