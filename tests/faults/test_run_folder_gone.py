"""A run folder deleted while its run trains (a user cleaning up runs/, a disk unmounted): one
``error:`` line naming the folder, exit code 2, and the folder is not made again, half, by the next
write."""

from __future__ import annotations

import shutil

import pytest

import zoo.optim
import zoo.trainer
from tests.helpers import fast, only_run, run_train


@pytest.mark.parametrize("when", ["training", "evaluation"])
def test_a_run_folder_deleted_while_training_is_one_message_and_is_not_made_again(
    when, quickdraw_root, tmp_path, monkeypatch
):
    real_step, real_evaluate = zoo.optim.Stepper.train_batch, zoo.trainer.evaluate

    def delete_the_run() -> None:
        shutil.rmtree(only_run(tmp_path, "vae-quickdraw"))

    def deleted_at_step_3(self, x, y, step):
        if step == 3:
            delete_the_run()
        return real_step(self, x, y, step)

    def deleted_during_evaluation(*args, **kwargs):
        delete_the_run()
        return real_evaluate(*args, **kwargs)

    if when == "training":
        monkeypatch.setattr(zoo.optim.Stepper, "train_batch", deleted_at_step_3)
    else:
        monkeypatch.setattr(zoo.trainer, "evaluate", deleted_during_evaluation)
    result = run_train(*fast(quickdraw_root, "vae"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the run folder ") and "was deleted or moved while training" in last, last
    assert f"(at step {3 if when == 'training' else 4})" in last
    assert "Traceback" not in result.stderr
    assert list((tmp_path / "runs" / "vae-quickdraw").iterdir()) == []
