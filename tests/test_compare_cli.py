"""``python compare.py`` end to end on two tiny trained runs: every file written, "n/a" with a
reason for missing capabilities and missing runs, the same numbers from the same seed, W&B offline."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, fast, run_compare, run_train
from zoo.metrics import inception


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request) -> tuple[Path, Path]:
    """A tiny DCGAN (no encoder, no likelihood) and a tiny VAE (both), trained on two categories."""
    workdir = tmp_path_factory.mktemp("compare")
    root = request.getfixturevalue("quickdraw_root_module")
    for model in ("dcgan", "vae"):
        result = run_train(*fast(root, model, steps=4), cwd=workdir)
        assert result.returncode == 0, result.stderr
    return workdir, root


def compare_args(root: Path, out: Path) -> list[str]:
    return [
        "data=quickdraw",
        f"data.root={root}",
        "data.categories=[cat,smiley_face]",
        "data.progress=false",
        "n_samples=64",
        "batch_size=32",
        "metrics.feature_net_steps=20",
        "metrics.critic_steps=5",
        "metrics.kid_subsets=5",
        "metrics.swd_patches_per_image=4",
        "metrics.feature_spaces=[zoo]",  # Inception costs ~0.1 s an image here: one test below
        "logger.mode=offline",
        f"out={out}",
    ]


def test_compare_writes_every_file_with_honest_na_cells(trained):
    workdir, root = trained
    out = workdir / "cmp1"
    result = run_compare(*compare_args(root, out), cwd=workdir)
    assert result.returncode == 0, result.stderr
    for name in ["report.md", "metrics.csv", "metrics.json", "samples.png", "recons.png", "morphs.png"]:
        assert (out / name).is_file(), name
    assert list((out / "wandb").glob("offline-run-*")), "no offline W&B run"

    rows = {r["model"]: r for r in json.loads((out / "metrics.json").read_text())["rows"]}
    real = rows["real data (test vs train)"]
    assert real["fid_zoo"] >= 0 and real["recon_mse"] == "n/a: reference row"
    dcgan, vae = rows["dcgan"], rows["vae"]
    assert dcgan["recon_mse"].startswith("n/a: no encoder") and dcgan["bits_per_dim"] == "n/a: no likelihood"
    assert vae["recon_method"] == "encode/decode"
    assert isinstance(vae["recon_mse"], float) and isinstance(vae["bits_per_dim"], float)
    assert vae["likelihood"] == "upper bound on binarised pixels (Bernoulli)"  # not comparable with 8-bit bits/dim
    for row in (dcgan, vae):
        for key in ("fid_zoo", "kid_zoo_x1e3", "swd_x1e3", "neg_wasserstein", "precision", "recall", "class_kl"):
            assert isinstance(row[key], float), key
        assert row["fid_inception"] == row["precision_inception"] == "n/a: not in metrics.feature_spaces"
        assert row["parameters"] > 0 and row["images_seen"] == 64
        assert row["train_images_per_s"] == pytest.approx(64 / (row["train_minutes"] * 60))
    for missing in ("glow", "alpha_gan"):  # registered but never trained here
        assert rows[missing]["run"].startswith("n/a: no finished run under")

    with open(out / "metrics.csv") as f:
        assert [r["model"] for r in csv.DictReader(f)][:3] == ["real data (test vs train)", "dcgan", "vae"]
    report = (out / "report.md").read_text()
    assert "| dcgan |" in report and "no encoder" in report
    assert "| model |" in result.stdout  # the table is printed


def test_the_inception_columns_are_filled_for_every_row_at_one_n(trained):
    """The standard FID network, converted from the installed package on first use into torch's
    hub cache (this session's own, see conftest), scores 16 images per row."""
    if inception.packaged_file() is None:
        pytest.skip(f"{inception.PACKAGE} is not installed (pip install -r requirements.txt)")
    workdir, root = trained
    out = workdir / "with-inception"
    args = [*compare_args(root, out), "logger.mode=disabled", "metrics.feature_spaces=[zoo,inception]"]
    result = run_compare(*args, "metrics.inception_samples=16", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert inception.cache_path().is_file()  # converted once, where torch-fidelity looks
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["images_per_feature_space"] == {"zoo": 64, "inception": 16}
    assert "torch-fidelity's port" in metrics["meta"]["feature_spaces"]["inception"]
    rows = {r["model"]: r for r in metrics["rows"]}
    for name in ("real data (test vs train)", "dcgan", "vae"):
        for key in ("fid_inception", "kid_inception_x1e3", "precision_inception", "recall_inception"):
            assert isinstance(rows[name][key], float), (name, key, rows[name][key])
        assert rows[name]["fid_inception"] > 0
    assert rows["dcgan"]["fid_inception"] > rows["real data (test vs train)"]["fid_inception"]  # 4 steps of training
    report = (out / "report.md").read_text()
    assert "| FID Inception N=16 |" in report and "biased upwards at small N" in report
    cache = workdir / "runs" / "compare" / "cache"
    assert len(list(cache.glob("reference-inception-*-n16-*.pt"))) == 1


def test_same_seed_gives_the_same_numbers(trained):
    workdir, root = trained
    first, second = workdir / "same1", workdir / "same2"
    for out in (first, second):
        result = run_compare(*compare_args(root, out), "logger.mode=disabled", cwd=workdir)
        assert result.returncode == 0, result.stderr

    def numbers(out):
        return [
            {k: v for k, v in r.items() if k != "sample_images_per_s"}
            for r in json.loads((out / "metrics.json").read_text())["rows"]
        ]

    assert numbers(first) == numbers(second)
    cache = workdir / "runs" / "compare" / "cache"
    assert len(list(cache.glob("featurenet-*.pt"))) == 1  # trained once, then read back
    assert len(list(cache.glob("reference-zoo-*.pt"))) == 1


def test_nothing_to_compare_is_one_clear_error(tmp_path, quickdraw_root):
    result = run_compare("data=quickdraw", f"data.root={quickdraw_root}", "logger.mode=disabled", cwd=tmp_path)
    assert result.returncode == 2
    assert "no finished runs to compare on quickdraw" in result.stderr and "Traceback" not in result.stderr


def test_invert_gan_fills_the_reconstruction_column_labelled_as_inversion(trained):
    workdir, root = trained
    out = workdir / "inverted"
    args = [*compare_args(root, out), "logger.mode=disabled", "invert_gan=true", "invert_images=8", "invert_steps=5"]
    result = run_compare(
        *args, "runs=[" + str(next((workdir / "runs" / "dcgan-quickdraw").iterdir())) + "]", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    dcgan = next(r for r in json.loads((out / "metrics.json").read_text())["rows"] if r["model"] == "dcgan")
    assert isinstance(dcgan["recon_mse"], float)
    assert dcgan["recon_method"].startswith("inversion (z optimised per image, 5 Adam steps, 8 test images)")
    assert (out / "recons.png").is_file()


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


def test_an_unfinished_run_is_scored_and_the_report_says_so(trained, tmp_path):
    workdir, root = trained
    live = copy_run(next((workdir / "runs" / "vae-quickdraw").iterdir()), tmp_path / "vae-live")
    status = json.loads((live / "run.json").read_text())
    (live / "run.json").write_text(json.dumps(status | {"status": "running"}))
    out = tmp_path / "cmp"
    result = run_compare(*compare_args(root, out), "logger.mode=disabled", f"runs=[{live}]", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = (out / "report.md").read_text()
    assert "Unfinished runs" in report and "| vae (unfinished: status running at step 4) |" in report


def test_when_no_model_can_be_scored_compare_fails(trained, tmp_path):
    workdir, root = trained
    broken = copy_run(next((workdir / "runs" / "dcgan-quickdraw").iterdir()), tmp_path / "dcgan-broken")
    (broken / "checkpoints" / "last.pt").write_text("not a checkpoint")
    out = tmp_path / "cmp"
    result = run_compare(*compare_args(root, out), "logger.mode=disabled", f"runs=[{broken}]", cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no model could be scored on quickdraw")
    assert "cannot load" in (out / "report.md").read_text()  # the reasons are written down


def default_sigint() -> None:
    """Run in the child before exec: a shell without job control starts a background job (CI run
    with ``&``) with SIGINT ignored, the ignoring is inherited, and Python then installs no
    KeyboardInterrupt handler, so the child would never see the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_compare_leaves_no_report_and_no_traceback(trained, tmp_path):
    workdir, root = trained
    # PYTHONFAULTHANDLER: should the child hang, SIGABRT makes it print where (the failure shows it)
    env = {**os.environ, "WANDB_SILENT": "true", "PYTHONFAULTHANDLER": "1"}
    out = tmp_path / "cmp"
    args = [*compare_args(root, out), "logger.mode=disabled", "metrics.feature_net_steps=100000"]
    command = [sys.executable, str(ROOT / "compare.py"), f"runs_dir={workdir / 'runs'}", "progress=false", *args]
    proc = subprocess.Popen(command, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    seen = ""
    while "comparing" not in seen:  # the reference is being built: a long feature-network training
        line = proc.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        rest = proc.communicate(timeout=120)[1]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            where = proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            where = "(its stderr stayed open 30 s after SIGABRT too: a child process of it holds it?)"
        pytest.fail(f"compare did not stop within 120 s of Ctrl-C; where it was:\n{seen}{where}")
    assert proc.returncode == 130, seen + rest
    assert "Traceback" not in rest and "interrupted" in rest
    assert not (out / "report.md").exists()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (
            ["metrics.pr_k=100"],
            "metrics.pr_k=100 needs more than 100 images in every set scored, but test images gives 50",
        ),
        (["n_samples=2"], "metrics.pr_k=3 needs more than 3 images in every set scored, but n_samples gives 2"),
    ],
)
def test_metric_options_that_the_data_cannot_satisfy_are_refused_before_any_folder(trained, tmp_path, overrides, named):
    workdir, root = trained
    out = tmp_path / "cmp"
    result = run_compare(*compare_args(root, out), "logger.mode=disabled", *overrides, cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and named in result.stderr, result.stderr
    assert not out.exists()
