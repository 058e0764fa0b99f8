"""``python train.py`` end to end, as a user types it: each model, outputs, finished runs, W&B
offline logging read back from disk (kill -9 and resume: tests/faults/test_kill.py; bad input:
tests/faults/test_hostile_inputs.py)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import data_name, fast, only_run, run_train
from tests.wandb_records import logged
from zoo.registry import MODELS

ENCODES = {name for name in MODELS.names() if MODELS.get(name).can_encode}
LIKELIHOOD = {name for name in MODELS.names() if MODELS.get(name).has_likelihood}


@pytest.mark.parametrize("model", MODELS.names())
def test_each_model_trains_through_train_py(model, quickdraw_root, tmp_path):
    result = run_train(*fast(quickdraw_root, model), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = only_run(tmp_path, f"{model}-{data_name(model)}")
    for expected in ["config.yaml", "checkpoints/last.pt", "samples/step_2.png", "samples/step_4.png", "metrics.jsonl"]:
        assert (run / expected).is_file(), expected
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "finished" and status["step"] == 4
    saved = (run / "config.yaml").read_text()
    assert "trainer:" in saved and "max_steps: 4" in saved and f"name: {model}" in saved
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 4
    assert (run / "recons" / "step_4.png").is_file() == (model in ENCODES)
    assert ("test/nll_nats" in rows[-1]) == (model in LIKELIHOOD)
    assert (f"test/{MODELS.get(model).bits_label}" in rows[-1]) == (model in LIKELIHOOD)
    assert ("test/recon_mse" in rows[-1]) == (model in ENCODES)
    if model == "glow":  # the family's own grids: temperatures and a latent interpolation strip
        for grid in ["samples_t0.5", "samples_t1", "interpolation"]:
            assert (run / grid / "step_4.png").is_file(), grid
    if MODELS.get(model).colourises:  # grey | 8 colourings | truth per row, at each grid temperature
        assert list(run.glob("colourise*/step_4.png")), "no colourisation grid"
        assert "test/bits_per_dim" not in rows[-1]  # a conditional density is never called bits/dim
    if model == "cinn":
        assert (run / "colour_transfer" / "step_4.png").is_file()
    if model == "alae":  # style mixing, truncation, and the last checkpoint of each finished level
        for path in [
            "style_mixing/step_4.png",
            "samples_psi0.7/step_4.png",
            "checkpoints/res4.pt",
            "checkpoints/res8.pt",
        ]:
            assert (run / path).is_file(), path
        assert status["schedule"]["resolution"] == 16


def test_a_finished_run_is_not_resumed_but_can_be_extended_explicitly(quickdraw_root, tmp_path):
    assert run_train(*fast(quickdraw_root, "vae"), cwd=tmp_path).returncode == 0
    assert run_train(*fast(quickdraw_root, "vae"), cwd=tmp_path).returncode == 0
    assert len(list((tmp_path / "runs" / "vae-quickdraw").iterdir())) == 2
    first = sorted((tmp_path / "runs" / "vae-quickdraw").iterdir())[0]
    longer = [a.replace("trainer.max_steps=4", "trainer.max_steps=6") for a in fast(quickdraw_root, "vae")]
    result = run_train(*longer, f"trainer.resume={first}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "from step 4" in result.stderr
    assert json.loads((first / "run.json").read_text())["step"] == 6


def test_wandb_offline_run_logs_losses_images_and_grouping(quickdraw_root, tmp_path):
    args = [a for a in fast(quickdraw_root, "vae") if not a.startswith("logger.mode")]
    result = run_train(
        *args, "logger.mode=auto", cwd=tmp_path, env={"WANDB_MODE": None, "NETRC": str(tmp_path / "none")}
    )
    assert result.returncode == 0, result.stderr
    assert "logging offline" in result.stderr
    run = only_run(tmp_path, "vae-quickdraw")
    [wandb_file] = run.glob("wandb/offline-run-*/run-*.wandb")
    record = logged(wandb_file)
    keys = set().union(*record["history"])
    assert {"trainer/step", "train/loss", "train/elbo", "train/kl", "train/images_per_s"} <= keys
    images = [row for row in record["history"] if "samples/_type" in row]
    assert (
        images and images[-1]["samples/_type"] == "image-file" and images[-1]["reconstructions/_type"] == "image-file"
    )
    assert images[-1]["trainer/step"] == 4
    assert "test/nll_nats" in record["summary"]
    assert record["run"].run_group == "quickdraw" and set(record["run"].tags) == {"vae", "quickdraw"}
    assert record["config"]["model"]["name"] == "vae" and record["config"]["trainer"]["batch_size"] == 16


def test_dcgan_on_28_pixel_mnist_explains_the_padding_fix(real_data, tmp_path):
    result = run_train(
        "model=dcgan",
        "data=mnist",
        "logger.mode=disabled",
        cwd=tmp_path,
        env={"ZOO_DATA_DIR": str(real_data)},
        process=True,  # the real command's exit code
    )
    assert result.returncode == 2 and "data.image_size=32" in result.stderr


@pytest.mark.parametrize("case", ["no key", "key but no network"])
def test_wandb_online_that_cannot_start_logs_offline_and_the_run_trains(case, quickdraw_root, tmp_path):
    """Offline-first: logger.mode=online without a key, or auto with a key and no reachable server,
    is one warning and an offline W&B run, never a traceback or a run stuck at "starting"."""
    env = {"WANDB_MODE": None, "NETRC": str(tmp_path / "none")}
    mode = "logger.mode=online"
    if case == "key but no network":
        env |= {"WANDB_API_KEY": "a" * 40, "WANDB_BASE_URL": "http://127.0.0.1:9"}  # nothing listens on port 9
        mode = "logger.mode=auto"
    args = [a for a in fast(quickdraw_root, "vae") if not a.startswith("logger.mode")]
    result = run_train(*args, mode, "logger.online_timeout_s=5", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "W&B could not start online" in result.stderr and "logging offline" in result.stderr
    assert "Traceback" not in result.stderr
    run = only_run(tmp_path, "vae-quickdraw")
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert list(run.glob("wandb/offline-run-*/run-*.wandb"))
