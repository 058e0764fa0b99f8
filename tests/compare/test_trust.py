"""What ``compare.py`` scores against is what the user asked for: the cache is keyed by the
images themselves, every comparison writes a folder of its own, the run picked for each model is
the newest finished one on the same data, and unreadable or unfinished runs are said to be so."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import tiny_bundle
from zoo.compare import CompareOptions, data_key, output_folder, pick_runs
from zoo.data import build_data
from zoo.errors import ZooError
from zoo.metrics.features import zoo_space

BASE = {"source": "quickdraw", "name": "quickdraw", "categories": ["cat", "smiley_face"], "progress": False}


def key_of(root: Path, **changes) -> str:
    options = BASE | {"root": str(root)} | changes
    source = options.pop("source")
    return data_key(build_data(source, **options), {"source": source, **options})


def test_the_cache_key_changes_with_everything_that_defines_the_images(quickdraw_root):
    base = key_of(quickdraw_root)
    assert key_of(quickdraw_root) == base  # the same images: the same key
    assert key_of(quickdraw_root, progress=True, download=False) == base  # how, not what
    changed = {
        "categories": key_of(quickdraw_root, categories=["cat"]),
        "other category": key_of(quickdraw_root, categories=["smiley_face"]),
        "max_per_category": key_of(quickdraw_root, max_per_category=100),
        "split_seed": key_of(quickdraw_root, split_seed=1),
        "test_fraction": key_of(quickdraw_root, test_fraction=0.2),
        "image_size": key_of(quickdraw_root, image_size=28),
    }
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed), changed


def test_the_key_of_a_folder_follows_its_pictures(tmp_path):
    """Same options, other pictures in the folder: another key (the pixels are hashed, not only
    the options that name them)."""
    from PIL import Image

    folder = tmp_path / "pictures"
    folder.mkdir()
    options = {"name": "folder", "root": str(tmp_path), "path": "pictures", "image_size": 8, "progress": False}
    keys = []
    for shade in (40, 200):
        for i in range(4):
            Image.new("RGB", (8, 8), (shade, i * 30, 0)).save(folder / f"{i}.png")
        keys.append(data_key(build_data("folder", **options), {"source": "folder", **options}))
    assert keys[0] != keys[1]


def test_another_data_key_misses_the_feature_network_cache(tmp_path):
    data = tiny_bundle()
    zoo_space(data.train, data.test, data.info, tmp_path, steps=3, batch_size=16, data_key="aaaa")
    zoo_space(data.train, data.test, data.info, tmp_path, steps=3, batch_size=16, data_key="aaaa")
    assert len(list(tmp_path.glob("featurenet-*.pt"))) == 1  # a hit
    zoo_space(data.train, data.test, data.info, tmp_path, steps=3, batch_size=16, data_key="bbbb")
    assert len(list(tmp_path.glob("featurenet-*.pt"))) == 2  # a miss


def test_two_comparisons_in_the_same_second_get_two_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda fmt: "2026-12-01_12-00-00")
    options = CompareOptions(runs_dir=str(tmp_path))
    first, _ = output_folder(options)
    second, _ = output_folder(options)
    assert first != second and first.is_dir() and second.is_dir()


def test_an_out_folder_that_holds_files_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.md").write_text("an earlier comparison")
    with pytest.raises(ZooError, match=r"out=.*old already holds files"):
        output_folder(CompareOptions(runs_dir=str(tmp_path), out=str(tmp_path / "old")))
    assert (tmp_path / "old" / "report.md").read_text() == "an earlier comparison"
    fresh, _ = output_folder(CompareOptions(runs_dir=str(tmp_path), out=str(tmp_path / "new")))
    assert fresh.is_dir()


def test_a_second_comparison_into_the_same_out_folder_is_refused_while_the_first_holds_it(tmp_path):
    """Two compare.py with the same out=: the first claims the new folder (and holds the claim until
    it has published); the second, started before the first wrote a file, is refused, not merged."""
    options = CompareOptions(runs_dir=str(tmp_path), out=str(tmp_path / "cmp"))
    with contextlib.ExitStack() as first:
        out, _ = output_folder(options, first)
        with pytest.raises(ZooError, match=r"out=.*cmp: another comparison is writing into it"):
            output_folder(options, contextlib.ExitStack())
        (out / "report.md").write_text("the first comparison's")
    with pytest.raises(ZooError, match=r"already holds files"):  # and after it, the folder is its
        output_folder(options, contextlib.ExitStack())
    assert (out / "report.md").read_text() == "the first comparison's"


def fake_run(runs: Path, stamp: str, categories: list[str], status: str = "finished", step: int = 40) -> Path:
    """A run folder as train.py leaves it (config.yaml, run.json, a checkpoint file)."""
    run = runs / "dcgan-quickdraw" / stamp
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    config = {"model": {"name": "dcgan"}, "data": BASE | {"root": "/data", "categories": categories}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "run.json").write_text(json.dumps({"status": status, "step": step}))
    return run


def test_the_newest_finished_run_on_the_same_data_is_picked_not_the_newest_run(tmp_path):
    older = fake_run(tmp_path, "2026-01-01_00-00-00", ["cat", "smiley_face"])
    fake_run(tmp_path, "2026-01-02_00-00-00", ["circle"])  # newer, on other data
    fake_run(tmp_path, "2026-01-03_00-00-00", ["cat", "smiley_face"], status="running")  # newest, unfinished
    picked = pick_runs(CompareOptions(runs_dir=str(tmp_path)), BASE | {"root": "/elsewhere"})
    assert picked["dcgan"].run == older
    only_other = pick_runs(CompareOptions(runs_dir=str(tmp_path)), BASE | {"categories": ["square"]})
    assert only_other["dcgan"].run is None
    assert "was trained on other data: data.categories" in only_other["dcgan"].reason


def test_a_corrupt_config_is_passed_over_in_discovery_and_refused_when_named(tmp_path):
    good = fake_run(tmp_path, "2026-01-01_00-00-00", ["cat", "smiley_face"])
    broken = fake_run(tmp_path, "2026-01-02_00-00-00", ["cat", "smiley_face"])
    (broken / "config.yaml").write_text("model: [unclosed\n  data: {")
    assert pick_runs(CompareOptions(runs_dir=str(tmp_path)), BASE)["dcgan"].run == good
    with pytest.raises(ZooError, match=r"config.yaml cannot be read .*restore it from a copy or leave that run out"):
        pick_runs(CompareOptions(runs_dir=str(tmp_path), runs=[str(broken)]), BASE)


def test_an_unfinished_run_given_by_name_is_scored_and_said_to_be_unfinished(tmp_path):
    live = fake_run(tmp_path, "2026-01-01_00-00-00", ["cat", "smiley_face"], status="running", step=40)
    picked = pick_runs(CompareOptions(runs_dir=str(tmp_path), runs=[str(live)]), BASE)
    assert picked["dcgan"].run == live and picked["dcgan"].unfinished == "status running at step 40"


def test_a_corrupt_config_is_one_message_for_morph_and_every_loader(tmp_path):
    from zoo.trained import load_trained

    run = fake_run(tmp_path, "2026-01-01_00-00-00", ["cat"])
    (run / "config.yaml").write_bytes(b"\x00\xff not yaml: [")
    with pytest.raises(ZooError, match=r"config.yaml cannot be read"):
        load_trained(run)
    (run / "config.yaml").write_text("just a string\n")
    with pytest.raises(ZooError, match=r"is not a genzoo run configuration"):
        load_trained(run)
