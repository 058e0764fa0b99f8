"""A trained model as a portable artefact: checkpoints that describe their model (loading needs no
data set), ``python -m zoo.export`` writing the Hub layout, ``zoo.load`` reading it, and every
broken export refused with one message naming the file. The round trip of every registered model
is in the contract test (tests/models/test_contract.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import zoo
from zoo import artefact
from zoo.checkpoint import load_checkpoint, save_checkpoint
from zoo.errors import ZooError
from zoo.export import main
from zoo.morph import main as morph
from zoo.studio.catalogue import Catalogue
from zoo.trained import load_trained

FAMILIES = ["alae", "alpha_gan", "dcgan", "glow", "vae"]


def samples(model, n: int = 4) -> torch.Tensor:
    with torch.no_grad():
        return model.sample(n, generator=torch.Generator().manual_seed(0))


def moved_away(run: Path, tmp_path: Path) -> Path:
    """A copy of the run whose recorded data root points nowhere (the data stayed on another machine)."""
    copy = shutil.copytree(run, tmp_path / "elsewhere" / run.parent.name / run.name)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["data"]["root"] = str(tmp_path / "no-such-folder")
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    return copy


@pytest.mark.parametrize("family", FAMILIES)
def test_a_run_loads_and_samples_without_its_data(trained_runs, family, tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    copy = moved_away(trained_runs[family], tmp_path)
    model = zoo.load(copy)
    assert not model.training
    assert torch.equal(samples(model), samples(zoo.load(trained_runs[family])))
    trained = load_trained(copy)
    with pytest.raises(ZooError, match="no-such-folder"):  # only asking for held-out images needs the data
        trained.data  # noqa: B018


def test_a_checkpoint_from_before_the_description_still_loads_by_reading_the_data(trained_runs, tmp_path):
    run = shutil.copytree(trained_runs["vae"], tmp_path / "vae-quickdraw" / "old")
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    del state["about"]
    save_checkpoint(state, run / "checkpoints" / "last.pt")
    trained = load_trained(run)
    assert trained._data is not None  # read to learn the image size and classes
    assert torch.equal(samples(trained.model), samples(zoo.load(trained_runs["vae"])))


@pytest.mark.parametrize("family", FAMILIES)
def test_export_writes_the_hub_layout_and_loads_back_with_identical_samples(trained_runs, family, tmp_path, capsys):
    out = tmp_path / "export"
    assert main([f"run={trained_runs[family]}", f"out={out}"]) == 0
    assert f"export: {out}" in capsys.readouterr().out
    files = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "README.md", "samples.png"} <= files
    assert not any(name.endswith((".pt", ".yaml", ".tmp")) for name in files)  # no optimizer state, no run files
    config = json.loads((out / "config.json").read_text())
    assert config["library"] == "genzoo" and config["family"] == family and config["training"]["step"] == 4
    text = (out / "config.json").read_text() + (out / "README.md").read_text()
    assert str(trained_runs[family].parent.parent.parent) not in text  # no path of the training machine
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: genzoo\n") and "license: cc-by-4.0" in card
    assert f"- {family}\n" in card and "python train.py model=" in card and "![samples](samples.png)" in card
    assert torch.equal(samples(zoo.load(out)), samples(zoo.load(trained_runs[family])))


def test_an_exported_model_morphs_pictures_and_says_it_has_no_test_split(trained_runs, tmp_path, capsys):
    out = tmp_path / "export"
    assert main([f"run={trained_runs['vae']}", f"out={out}"]) == 0
    picture = out / "samples.png"  # any picture file
    assert morph([f"run={out}", f"a={picture}", f"b={picture}", "frames=3", f"out={tmp_path / 'gif'}"]) == 0
    assert morph([f"run={out}", "a=0", "b=1", f"out={tmp_path / 'gif2'}"]) == 2
    assert "is an exported model: it carries no data set" in capsys.readouterr().err


def test_export_refuses_a_folder_that_holds_files_and_writes_nothing(trained_runs, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("a user's file")
    assert main([f"run={trained_runs['dcgan']}", f"out={out}"]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_a_crash_mid_export_leaves_nothing_that_looks_like_an_export(trained_runs, tmp_path, monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)  # fails after the weights are written
    assert main([f"run={trained_runs['dcgan']}", f"out={tmp_path / 'export'}"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no export, no temporary folder


@pytest.fixture
def exported(trained_runs, tmp_path) -> Path:
    out = tmp_path / "export"
    assert main([f"run={trained_runs['dcgan']}", f"out={out}"]) == 0
    return out


def broken(folder: Path, how: str) -> None:
    config = json.loads((folder / "config.json").read_text())
    if how == "not an export":
        (folder / "config.json").unlink()
    elif how == "unknown family":
        (folder / "config.json").write_text(json.dumps(config | {"family": "stylegan9"}))
    elif how == "an option it does not take":
        (folder / "config.json").write_text(json.dumps(config | {"options": {**config["options"], "depth": 3}}))
    elif how == "weights that do not fit":
        (folder / "config.json").write_text(json.dumps(config | {"options": {**config["options"], "width": 8}}))
    elif how == "truncated weights":
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("not an export", "is not a genzoo export: it has no config.json"),
        ("unknown family", "config.json names the family 'stylegan9'"),
        ("an option it does not take", "config.json: unknown option model.depth"),
        ("weights that do not fit", "model.safetensors does not fit the dcgan model"),
        ("truncated weights", "model.safetensors cannot be read"),
    ],
)
def test_a_broken_export_is_one_message_naming_the_file(exported, how, words, tmp_path, capsys):
    broken(exported, how)
    with pytest.raises(ZooError, match=words.replace("(", r"\(")):
        zoo.load(exported)
    before = sorted(p.name for p in exported.iterdir())
    assert morph([f"run={exported}", f"a={tmp_path}", f"b={tmp_path}", f"out={tmp_path / 'gif'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]
    assert sorted(p.name for p in exported.iterdir()) == before and not (tmp_path / "gif").exists()


def test_the_studio_lists_exported_folders_beside_runs_and_says_how_far_they_trained(trained_runs, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "alae-quickdraw").symlink_to(trained_runs["alae"].parent, target_is_directory=True)
    assert main([f"run={trained_runs['alae']}", f"out={runs / 'my-alae'}"]) == 0
    (runs / "not-a-model").mkdir()
    (runs / "not-a-model" / "config.json").write_text("{}")  # left out with a warning
    catalogue = Catalogue(runs, torch.device("cpu"))
    keys = {e.key: e for e in catalogue.entries.values()}
    assert "my-alae" in keys and keys["my-alae"].exported and "not-a-model" not in keys
    progress = keys["my-alae"].progress
    assert (
        progress.startswith("exported, 4 steps, ") and progress.endswith("16px") and keys["my-alae"].data == "quickdraw"
    )
    run_key = next(k for k in keys if k.startswith("alae-quickdraw/"))
    assert keys[run_key].progress.startswith("4 steps, ") and keys[run_key].progress.endswith("16px")
    assert torch.equal(samples(catalogue.model("my-alae", "style_mix")), samples(catalogue.model(run_key, "style_mix")))


def test_describe_keeps_no_path_of_the_training_machine():
    info = zoo.artefact.DataInfo("photos", 3, 64)
    about = artefact.describe(
        {
            "model": {"name": "vae", "width": 4},
            "data": {"source": "folder", "root": "/home/me/data", "path": "/home/me/p"},
        },
        info,
        "vae",
    )
    assert about["data"] == {"source": "folder", "path": "p"} and about["options"] == {"width": 4}
    assert artefact.info_from(about["data_info"], "x") == info


def test_the_card_carries_the_runs_compare_row_with_the_reports_data_key(trained_runs, tmp_path):
    """A compare.py report under the same runs folder that scored this run: its row goes into the
    card (and the report's data key with it); another run's row does not."""
    run = trained_runs["vae"]
    report = run.parent.parent / "compare" / "2099-01-01_00-00-00"
    report.mkdir(parents=True)
    rows = [
        {"model": "vae", "run": str(run), "fid_zoo": 12.5, "recon_mse": 0.031},
        {"model": "dcgan", "run": str(trained_runs["dcgan"]), "fid_zoo": 99.0},
    ]
    (report / "metrics.json").write_text(json.dumps({"meta": {"data_key": "abc123"}, "rows": rows}))
    try:
        assert main([f"run={run}", f"out={tmp_path / 'export'}"]) == 0
    finally:
        shutil.rmtree(report)
    card = (tmp_path / "export" / "README.md").read_text()
    assert "`compare.py` row (report 2099-01-01_00-00-00, data key `abc123`)" in card
    assert "| fid_zoo | 12.5 |" in card and "| recon_mse | 0.031 |" in card and "| fid_zoo | 99" not in card


def test_a_truncated_export_in_the_studio_is_a_message_in_the_page(trained_runs, tmp_path):
    from zoo.studio.actions import Studio

    runs = tmp_path / "runs"
    runs.mkdir()
    assert main([f"run={trained_runs['dcgan']}", f"out={runs / 'my-dcgan'}"]) == 0
    broken(runs / "my-dcgan", "truncated weights")
    studio = Studio(Catalogue(runs, torch.device("cpu")), tmp_path / "scratch")
    gallery, message = studio.samples("quickdraw", n=4)
    assert gallery == [] and "my-dcgan cannot be loaded" in message and "model.safetensors cannot be read" in message
