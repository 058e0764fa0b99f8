"""Ctrl-C or SIGTERM after the last training step, while the run is evaluated: the run's record
says "interrupted" (not "running"), no eval.json is left behind half-made, and the same command
then evaluates it from the final checkpoint and finishes. SIGTERM to compare.py takes Ctrl-C's path;
a Ctrl-C while train.py or compare.py is still importing is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import zoo.trainer
from tests.helpers import ROOT, fast, only_run, run_compare, run_train
from zoo.signals import STARTING_INTERRUPTED


def test_an_interrupt_during_the_final_evaluation_leaves_a_true_status_and_the_rerun_finishes(
    quickdraw_root, tmp_path, monkeypatch
):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # what zoo.app's SIGTERM handler raises too

    with monkeypatch.context() as patch:
        patch.setattr(zoo.trainer, "evaluate", interrupted)
        result = run_train(*fast(quickdraw_root, "vae"), cwd=tmp_path)
    assert result.returncode == 130, result.stderr
    run = only_run(tmp_path, "vae-quickdraw")
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "interrupted" and status["step"] == 4
    assert not (run / "eval.json").exists()

    result = run_train(*fast(quickdraw_root, "vae"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "from step 4" in result.stderr
    assert only_run(tmp_path, "vae-quickdraw") == run
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert "test/recon_mse" in json.loads((run / "eval.json").read_text())


def test_sigterm_to_compare_takes_ctrl_cs_path_and_leaves_no_empty_report_folder(quickdraw_root, tmp_path, monkeypatch):
    import zoo.compare.command

    assert run_train(*fast(quickdraw_root, "vae"), cwd=tmp_path).returncode == 0

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the comparison folder exists, still empty

    def unhandled(signum, frame):  # stands in for the default action, which would end pytest itself
        raise RuntimeError("compare.py leaves SIGTERM to its default: the process dies where it stands")

    monkeypatch.setattr(zoo.compare.command, "build_reference", terminated)
    data = ["data=quickdraw", f"data.root={quickdraw_root}", "data.categories=[cat,smiley_face]"]
    before = signal.signal(signal.SIGTERM, unhandled)
    try:
        result = run_compare(*data, "logger.mode=disabled", cwd=tmp_path)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert result.returncode == 130, result.stderr
    assert "interrupted" in result.stderr
    left = [p.name for p in (tmp_path / "runs" / "compare").iterdir() if p.name != "cache"]
    assert left == [], left


def test_a_second_ctrl_c_during_the_interrupt_save_waits_for_the_checkpoint(quickdraw_root, tmp_path, monkeypatch):
    """The first Ctrl-C arrives after step 2; a second one arrives while that checkpoint is being
    written: the checkpoint is finished, not torn, and the run says what was saved."""
    import zoo.optim
    from zoo.checkpoint import load_checkpoint

    real_step, real_save = zoo.optim.Stepper.train_batch, zoo.trainer.save_checkpoint

    def interrupted_at_step_3(self, x, y, step):
        if step == 3:
            raise KeyboardInterrupt  # the first Ctrl-C
        return real_step(self, x, y, step)

    def save_interrupted_again(state, path):
        if state["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while the checkpoint is written
        real_save(state, path)

    monkeypatch.setattr(zoo.optim.Stepper, "train_batch", interrupted_at_step_3)
    monkeypatch.setattr(zoo.trainer, "save_checkpoint", save_interrupted_again)
    args = [
        a.replace("trainer.checkpoint_every=2", "trainer.checkpoint_every=100") for a in fast(quickdraw_root, "vae")
    ]
    result = run_train(*args, cwd=tmp_path)
    assert result.returncode == 130, result.stderr
    assert "still writing the checkpoint" in result.stderr and "resume from step 2" in result.stderr
    run = only_run(tmp_path, "vae-quickdraw")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize("script", ["train.py", "compare.py"])
def test_ctrl_c_while_a_command_is_still_importing_is_one_line_and_writes_nothing(script, tmp_path):
    """``-X importtime`` reports each finished import on stderr: the Ctrl-C is sent once Hydra's
    own modules are being imported, seconds before the command's handlers are in place."""
    command = [sys.executable, "-X", "importtime", str(ROOT / script), f"runs_dir={tmp_path / 'runs'}"]
    proc = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "hydra." in line:
            proc.send_signal(signal.SIGINT)
            break
    lines += proc.stderr.readlines()
    assert proc.wait(timeout=60) == 130, "".join(lines[-20:])
    assert lines[-1].strip() == STARTING_INTERRUPTED
    assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in lines)
    assert list(tmp_path.iterdir()) == []
