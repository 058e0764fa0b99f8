"""``python compare.py task=colourise`` end to end on a tiny trained cINN and regression: the
reference rows frame the figures (ground truth: zero error; grey input: no colour), the
regression's colourings have zero variance and the cINN's do not, every file is written; the
unconditional comparison lists a colouriser with where it is scored instead of scoring it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.helpers import run_compare
from zoo.compare.colourise import tuned_temperature
from zoo.compare.options import CompareOptions
from zoo.nn.colour import AB_SCALE, chroma, lightness, to_rgb


def compare_args(root: Path, out: Path, task: str = "colourise") -> list[str]:
    return [
        f"task={task}",
        "data=folder",
        f"data.root={root}",
        "data.path=colour",
        "data.name=colour",
        "data.image_size=16",
        "data.progress=false",
        "n_samples=64",
        "batch_size=32",
        "colourings=4",
        "metrics.feature_net_steps=10",
        "metrics.kid_subsets=5",
        "metrics.critic_steps=5",
        "metrics.swd_patches_per_image=4",
        "metrics.feature_spaces=[zoo]",
        "logger.mode=disabled",
        f"out={out}",
    ]


def test_colourise_scores_both_colourisers_against_the_two_reference_rows(colourisers):
    workdir, root = colourisers
    out = workdir / "cmp"
    result = run_compare(*compare_args(root, out), cwd=workdir)
    assert result.returncode == 0, result.stderr
    for name in ("report.md", "metrics.csv", "metrics.json", "colourise.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "metrics.json").read_text())
    assert data["meta"]["task"] == "colourise" and data["meta"]["colourings_per_image"] == 4
    rows = {r["model"]: r for r in data["rows"]}
    truth, grey = rows["ground truth"], rows["grey input (ab = 0)"]
    cinn, regression = rows["cinn"], rows["colour_regression"]
    assert truth["best_of_n_rmse_ab"] == 0 and truth["variance_ab"] == 0
    assert grey["colourfulness"] < 0.5 < truth["colourfulness"]
    assert grey["best_of_n_rmse_ab"] == pytest.approx(grey["best_of_1_rmse_ab"])
    assert grey["best_of_n_rmse_ab"] > 5  # the truth's own colour, all of it missing
    assert regression["variance_ab"] == 0  # one answer per grey image
    assert regression["best_of_n_rmse_ab"] == pytest.approx(regression["best_of_1_rmse_ab"])
    assert cinn["variance_ab"] > 0 and cinn["best_of_n_rmse_ab"] < cinn["best_of_1_rmse_ab"]
    assert isinstance(cinn["bits_per_colour_dim"], float)
    assert regression["bits_per_colour_dim"].startswith("n/a: no likelihood")
    for row in (truth, grey, cinn, regression):
        assert isinstance(row["fid_zoo"], float) and row["fid_inception"] == "n/a: not in metrics.feature_spaces"
    assert cinn["images_seen"] == 6 * 16 and cinn["temperature"] == 1.0
    assert regression["temperature"].startswith("n/a: one answer per grey image")
    tuned = rows["cinn, T tuned on training images"]  # a second cINN row; none for the regression
    assert {r["model"] for r in data["rows"]} == {*rows} and len(rows) == 5
    curve = dict(pair.split(":") for pair in tuned["tuning_curve"].split())
    assert list(curve) == ["0.5", "0.6", "0.7", "0.8", "0.9", "1"]
    assert tuned["temperature"] == min(map(float, curve), key=lambda t: (float(curve[f"{t:g}"]), -t))
    assert tuned["bits_per_colour_dim"] == cinn["bits_per_colour_dim"] and tuned["run"] == cinn["run"]
    report = (out / "report.md").read_text()
    assert "| cinn |" in report and "best-of-4 RMSE ab" in report and "bits/colour dim" in report
    assert "| cinn, T tuned on training images |" in report and "- cinn, T tuned on training images: 0.5:" in report
    assert f"`cinn T={tuned['temperature']:g}` (its first colouring at the tuned T)" in report  # its grid column
    assert "best-of-4 RMSE ab" in result.stdout
    assert f"T=0.5: best-of-4 ab RMSE {float(curve['0.5']):.2f}" in result.stderr  # the tuning's progress
    assert f"chose T={tuned['temperature']:g}" in result.stderr


def test_colour_temperature_sets_the_cinns_and_zero_makes_its_colourings_one(colourisers):
    workdir, root = colourisers
    out = workdir / "cmp-t0"
    result = run_compare(*compare_args(root, out), "colour_temperature=0", "tuning_temperatures=[]", cwd=workdir)
    assert result.returncode == 0, result.stderr
    rows = {r["model"]: r for r in json.loads((out / "metrics.json").read_text())["rows"]}
    assert rows["cinn"]["temperature"] == 0 and rows["cinn"]["variance_ab"] == pytest.approx(0, abs=1e-6)
    assert not any("tuned" in name for name in rows)  # tuning_temperatures=[]: no tuned row
    assert "tuned" not in (out / "report.md").read_text()


class ShiftedColouriser:
    """Colours every pixel ab = (a, 0) with a = 40 T: the lower the temperature, the smaller the shift."""

    def colourise(self, grey, n, temperature, generator):
        ab = torch.zeros(len(grey), 2, *grey.shape[2:])
        ab[:, 0] = 40 * temperature / AB_SCALE
        return to_rgb(grey, ab)[:, None].expand(-1, n, -1, -1, -1)


def test_the_tuned_temperature_is_the_one_whose_colourings_are_closest_on_the_given_images():
    grey = torch.full((6, 1, 8, 8), 0.5)
    ab = torch.zeros(6, 2, 8, 8)
    ab[:, 0] = 28 / AB_SCALE  # the images' own a: 40 T at T = 0.7
    images = to_rgb(grey, ab)
    assert chroma(images)[:, 0].mean() * AB_SCALE == pytest.approx(28, abs=0.5)
    assert lightness(images).mean() == pytest.approx(0.5, abs=1e-3)
    options = CompareOptions(colourings=3, batch_size=4, tuning_temperatures=[1.0, 0.5, 0.7, 0.9])
    best, curve = tuned_temperature(ShiftedColouriser(), images, options, torch.device("cpu"))
    assert best == 0.7 and list(curve) == [0.5, 0.7, 0.9, 1.0]  # read off in order, once each
    # a is off by 8 at T = 0.5 and by 12 at T = 1, b never: the RMSE over both channels is that / sqrt(2)
    assert curve[0.7] < 1 < curve[0.5] == pytest.approx(8 / 2**0.5, abs=0.4)
    assert curve[1.0] == pytest.approx(12 / 2**0.5, abs=0.4)


def test_the_unconditional_comparison_points_a_colouriser_to_task_colourise(colourisers):
    workdir, root = colourisers
    result = run_compare(*compare_args(root, workdir / "cmp-generate", task="generate"), cwd=workdir)
    assert result.returncode == 2  # nothing but colourisers trained on this data
    assert "no finished runs to compare on colour" in result.stderr
    assert "cinn is a colouriser: python compare.py task=colourise data=colour" in result.stderr
    assert "colour_regression is a colouriser" in result.stderr


def test_colourise_on_grey_data_is_refused_with_the_fix(quickdraw_root, tmp_path):
    result = run_compare(
        "task=colourise",
        "data=quickdraw",
        f"data.root={quickdraw_root}",
        "data.categories=[cat,smiley_face]",
        "data.progress=false",
        "logger.mode=disabled",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "task=colourise needs colour images, and quickdraw has 1 channel" in result.stderr
    assert not (tmp_path / "runs" / "compare").exists()
