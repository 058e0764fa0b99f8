"""The Quick, Draw! subset inside the package (``data=quickdraw_mini``, the default): real
doodles with no download, made reproducibly by ``zoo.data.embed_quickdraw``, and never a stand-in
for ``data=quickdraw``."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from tests.helpers import doodles, only_run, run_train
from zoo.data import build_data
from zoo.data.embed_quickdraw import CATEGORIES
from zoo.data.embed_quickdraw import main as embed_main
from zoo.data.quickdraw import EMBEDDED
from zoo.errors import ZooError


def mini(**options):
    return build_data("quickdraw_mini", name="quickdraw_mini", categories=list(CATEGORIES), **options)


def test_ten_real_categories_of_2000_doodles_split_200_per_category_for_test():
    data = mini()
    assert data.info.class_names == CATEGORIES and data.info.binary and data.info.image_size == 32
    assert len(data.train) == 18_000 and len(data.test) == 2_000
    assert torch.bincount(data.test.labels).tolist() == [200] * 10
    ink = data.train.images.float().mean() / 255
    assert 0.05 < ink < 0.3, "doodles are mostly background with some ink"
    assert data.train.images[:, :, :2].max() == 0, "28x28 doodles padded to 32 with background"
    # the split is the same whatever the caller; train and test share no doodle
    again = mini()
    assert torch.equal(again.test.images, data.test.images)
    seen = {bytes(x.numpy()) for x in data.train.images}
    assert not any(bytes(x.numpy()) in seen for x in data.test.images[:500])


def test_the_doodles_are_the_categories_they_say():
    """Circles and squares differ where a drawing's ink lies: a square's corners are inked far
    more often than a circle's."""
    data = mini()
    corners = data.train.images[:, 0, [6, 6, 25, 25], [6, 25, 6, 25]].float().mean(dim=1)  # (N,)
    by_class = {name: corners[data.train.labels == i].mean() for i, name in enumerate(CATEGORIES)}
    assert by_class["square"] > 2 * by_class["circle"], by_class


def test_a_category_it_does_not_hold_is_refused_naming_the_full_data():
    with pytest.raises(ZooError, match=r"embedded subset has no 'The Eiffel Tower'.*data=quickdraw downloads"):
        build_data("quickdraw_mini", name="quickdraw_mini", categories=["cat", "the_eiffel_tower"])
    with pytest.raises(ZooError, match="more than once"):
        build_data("quickdraw_mini", name="quickdraw_mini", categories=["cat", "cat"])


def test_options_behave_as_for_the_full_data():
    data = build_data("quickdraw_mini", name="q", categories=["star", "fish"], max_per_category=100, image_size=28)
    assert len(data.train) + len(data.test) == 200 and data.info.image_size == 28
    assert data.info.class_names == ("star", "fish")


def test_it_says_in_one_line_that_it_is_the_embedded_subset(caplog):
    with caplog.at_level(logging.INFO, logger="zoo"):
        mini()
    said = [r.getMessage() for r in caplog.records if "embedded" in r.getMessage()]
    assert len(said) == 1 and "data=quickdraw downloads the official files" in said[0], said


def test_train_py_with_no_data_option_trains_on_it_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    result = run_train("model=vae", "trainer.max_steps=2", "eval.n_test=50", "logger.mode=disabled", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "embedded Quick, Draw! subset" in result.stderr
    run = only_run(tmp_path, "vae-quickdraw_mini")
    assert (run / "samples" / "step_2.png").is_file()


def test_the_script_makes_the_same_archive_byte_for_byte(tmp_path):
    source = tmp_path / "official"
    source.mkdir()
    for i, category in enumerate(CATEGORIES):
        np.save(source / f"{category.replace(' ', '_')}.npy", doodles(30, i % 2))
    for out in ("a.npz", "b.npz"):
        assert embed_main(["--source", str(source), "--out", str(tmp_path / out), "--per-category", "12"]) == 0
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as archive:
        assert sorted(archive.files) == sorted(c.replace(" ", "_") for c in CATEGORIES)
        assert archive["cat"].shape == (12, 784) and archive["cat"].dtype == np.uint8


def test_the_script_refuses_a_source_without_every_category(tmp_path, capsys):
    (tmp_path / "official").mkdir()
    np.save(tmp_path / "official" / "cat.npy", doodles(30, 0))
    assert embed_main(["--source", str(tmp_path / "official"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "no file for 'airplane'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_the_shipped_archive_is_what_its_provenance_says():
    import json

    meta = json.loads(EMBEDDED.with_suffix(".json").read_text())
    assert meta["per_category"] == 2000 and set(meta["sources"]) == set(CATEGORIES)
    assert EMBEDDED.stat().st_size < 8_000_000  # a few MB in the repository
