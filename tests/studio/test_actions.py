"""What each of the studio's buttons does, on tiny runs trained in the test session: every model
that can answers, the answers are the models' own, and every failure is one message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.studio.browser import ellipse
from zoo.images import to_image
from zoo.studio.actions import CANVAS, Studio
from zoo.studio.catalogue import Catalogue

ENCODERS = ["alae", "alpha_gan", "flow_matching", "glow", "vae"]  # the doodle runs' models that encode


def drawing(*strokes, width: int = 14) -> dict:
    """A sketchpad value with ``strokes`` (points in [-1, 1]) painted as white lines ``width`` pixels wide."""
    from PIL import ImageDraw

    layer = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    for stroke in strokes:
        pen.line(
            [((x + 1) * CANVAS / 2, (y + 1) * CANVAS / 2) for x, y in stroke], fill=(255, 255, 255, 255), width=width
        )
    background = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    background[..., 3] = 255
    return {"background": background, "layers": [np.asarray(layer)], "composite": None}


def key(studio: Studio, model: str, data: str = "quickdraw") -> str:
    return next(e.key for e in studio.catalogue.entries_for(data) if e.model == model)


def test_the_catalogue_offers_the_newest_finished_run_of_each_model_by_what_it_can_do(studio):
    cat = studio.catalogue
    assert [e.model for e in cat.entries_for("quickdraw", "encode")] == ENCODERS
    assert [e.model for e in cat.entries_for("quickdraw", "sample")] == sorted([*ENCODERS, "dcgan"])
    assert [e.model for e in cat.entries_for("quickdraw", "style_mix")] == ["alae"]
    assert [e.model for e in cat.entries_for("colour", "colourise")] == ["cinn", "colour_regression"]
    assert [e.model for e in cat.entries_for("colour", "transfer")] == ["cinn"]  # a regression has no latent
    assert cat.keys("style_mix") == [e.key for e in cat.entries_for("quickdraw", "style_mix")]
    assert cat.data_sets("colourise") == ["colour"] and "quickdraw" in cat.data_sets("encode")


@pytest.mark.parametrize("sent", ["../../etc/passwd", "/etc/passwd", "runs/../../x", "alae-quickdraw"])
def test_a_run_the_browser_names_is_looked_up_never_opened(studio, sent):
    choices, _presets, message = studio.style_layers(sent)
    assert choices == [] and "is not one of the finished runs" in message
    _, _, _, message = studio.colourise(sent, None)
    assert "is not one of the finished runs" in message


def test_a_test_doodle_reaches_every_encoder_exactly_and_each_reconstructs_it(studio):
    a, _ = studio.test_doodle("quickdraw", 3)
    b, _ = studio.test_doodle("quickdraw", 7)
    out = studio.reconstruct("quickdraw", a, b, 3, 7)
    assert [c.split(":")[0] for _, c in out.pictures] == ENCODERS, out.message
    for model in ENCODERS:
        run = studio.catalogue.load(key(studio, model))
        x, _ = run.data.test.batch(torch.tensor([3, 7]))
        with torch.no_grad():
            expected = run.model.reconstruct(x)
        assert torch.allclose(out.frames[model], expected, atol=1e-5), model
    assert "answer" in out.message and "ms" in out.message


def test_a_drawing_on_a_test_doodle_is_the_drawing(studio):
    a, _ = studio.test_doodle("quickdraw", 3)
    a["layers"] = drawing(ellipse(0, 0, 0.5, 0.5))["layers"]
    b = drawing(*[[(-0.5, -0.5), (0.5, 0.5)]])
    untouched, _ = studio.test_doodle("quickdraw", 3)
    run = studio.catalogue.load(key(studio, "vae"))
    exact = run.data.test.batch(torch.tensor([3]))[0]
    seen = studio.reconstruct("quickdraw", untouched, b, 3, None).inputs
    drawn = studio.reconstruct("quickdraw", a, b, 3, None).inputs
    first = np.s_[2:130, 2:130]  # A in the A | B strip (2 pixels of padding)
    assert np.array_equal(np.asarray(seen)[first], np.asarray(to_image(exact, 4)))  # the exact test image
    assert not np.array_equal(np.asarray(drawn)[first], np.asarray(seen)[first])


def test_a_morph_has_the_frames_asked_for_and_runs_between_the_reconstructions(studio):
    a, b = drawing(ellipse(0, 0, 0.6, 0.6)), drawing([(-0.6, 0.6), (0, -0.6), (0.6, 0.6), (-0.6, 0.6)])
    recon = studio.reconstruct("quickdraw", a, b)
    out = studio.morph("quickdraw", a, b, frames=6, mode="linear", pingpong=True, fps=10)
    assert [c.split(":")[0] for _, c in out.pictures] == ENCODERS, out.message
    for model in ENCODERS:
        path = out.frames[model]
        assert path.shape[0] == 6
        assert torch.allclose(path[0], recon.frames[model][0], atol=1e-4), model
        assert torch.allclose(path[-1], recon.frames[model][1], atol=1e-4), model
    gif = Path(dict((c.split(":")[0], p) for p, c in out.pictures)["vae"])
    assert gif.parent == studio.workdir
    with Image.open(gif) as img:  # identical neighbours are merged into one longer frame, so count time
        durations = []
        for i in range(img.n_frames):
            img.seek(i)
            durations.append(img.info["duration"])
    assert sum(durations) == (6 + 4) * 100  # there and back at 10 fps: 6 frames, then the 4 between in reverse


def test_bad_canvases_and_missing_runs_get_one_message_each(studio, studio_runs, tmp_path):
    empty = {"background": np.zeros((CANVAS, CANVAS, 3), np.uint8), "layers": []}
    out = studio.reconstruct("quickdraw", empty, drawing([(-0.5, 0), (0.5, 0)]))
    assert out.pictures == [] and "canvas A is empty" in out.message
    out = studio.morph("nothing", empty, empty)
    assert "no finished run on nothing can encode" in out.message


def test_a_broken_run_is_listed_with_its_reason_and_the_others_still_answer(trained_runs, tmp_path):
    runs = tmp_path / "runs"
    for model in ("vae", "alpha_gan"):
        shutil.copytree(trained_runs[model], runs / f"{model}-quickdraw" / trained_runs[model].name)
    (runs / "vae-quickdraw" / trained_runs["vae"].name / "checkpoints" / "last.pt").write_bytes(b"garbage")
    studio = Studio(Catalogue(runs, torch.device("cpu")), tmp_path / "scratch")
    a, _ = studio.test_doodle("quickdraw", 0)
    out = studio.reconstruct("quickdraw", a, a, 0, 0)
    assert [c.split(":")[0] for _, c in out.pictures] == ["alpha_gan"]
    assert "**vae**" in out.message and "cannot be loaded" in out.message
    # a run deleted while the page is open: its message, not a crash
    shutil.rmtree(runs / "alpha_gan-quickdraw")
    out = studio.reconstruct("quickdraw", a, a, 0, 0)
    assert out.pictures == [] and "was deleted" in out.message


def test_samples_come_from_every_model_and_each_control_only_where_declared(studio):
    gallery, message = studio.samples("quickdraw", n=4, seed=1, temperature=0.5, truncation=0.3)
    captions = dict((c.split(" ")[0], c) for _, c in gallery)
    assert sorted(captions) == sorted([*ENCODERS, "dcgan"]), message
    assert captions["glow"] == "glow (temperature=0.5)" and captions["alae"] == "alae (truncation=0.3)"
    assert captions["vae"] == "vae"
    again, _ = studio.samples("quickdraw", n=4, seed=1, temperature=0.5, truncation=0.3)
    other, _ = studio.samples("quickdraw", n=4, seed=2, temperature=0.5, truncation=0.3)
    assert np.array_equal(np.asarray(gallery[0][0]), np.asarray(again[0][0]))
    assert not np.array_equal(np.asarray(gallery[0][0]), np.asarray(other[0][0]))


def test_style_mixing_with_no_source_layer_is_the_destinations_reconstruction(studio):
    alae = key(studio, "alae")
    choices, presets, _ = studio.style_layers(alae)
    model = studio.catalogue.load(alae).model
    assert [i for _, i in choices] == list(range(model.style_layers))
    assert set(presets) == {"coarse", "middle", "fine", "none", "all"} and presets["all"] == [i for _, i in choices]
    source, _ = studio.test_picture(alae, 0)
    destination, _ = studio.test_picture(alae, 5)
    src_rec, dst_rec, mixed, message = studio.style_mix(alae, source, destination, [])
    assert np.array_equal(np.asarray(mixed), np.asarray(dst_rec)), message
    src_rec, _, mixed, _ = studio.style_mix(alae, source, destination, [i for _, i in choices])
    assert np.array_equal(np.asarray(mixed), np.asarray(src_rec))
    _, _, mixed, message = studio.style_mix(alae, source, destination, [99])
    assert mixed is None and "layers [99] do not exist" in message
    _, _, mixed, message = studio.style_mix(key(studio, "vae"), source, destination, [])
    assert mixed is None and "has no per-layer styles" in message


def test_colourise_gives_n_colourings_that_keep_the_grey_and_transfer_only_for_the_cinn(studio, tmp_path):
    cinn, regression = key(studio, "cinn", "colour"), key(studio, "colour_regression", "colour")
    photo, _ = studio.test_picture(cinn, 0)
    reference, _ = studio.test_picture(cinn, 1)
    _grey, gallery, moved, message = studio.colourise(cinn, photo, 1.0, 0, reference)
    assert len(gallery) == 8 and moved is not None and "temperature 1" in message
    more = studio.colourise(cinn, photo, 1.0, 1, None)[1]
    assert not np.array_equal(np.asarray(gallery[0][0]), np.asarray(more[0][0])), "a new seed, a new draw"
    _, gallery, moved, message = studio.colourise(regression, photo, 1.0, 0, reference)
    assert len(gallery) == 8 and moved is None and "colour transfer needs a cINN" in message
    not_a_picture = tmp_path / "x.png"
    not_a_picture.write_text("hello")
    assert "not a picture" in studio.colourise(cinn, str(not_a_picture))[3]
    assert "does not colourise" in studio.colourise(key(studio, "vae"), photo)[3]


def test_the_compare_tab_shows_the_newest_report_of_a_data_set_from_copies(studio, studio_runs, tmp_path):
    compare = tmp_path / "runs" / "compare"
    for name, data in (("2026-01-01_00-00-00", "quickdraw"), ("2026-02-01_00-00-00", "quickdraw")):
        folder = compare / name
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"meta": {"data": data}, "rows": []}))
        (folder / "report.md").write_text(f"# report {name}\n")
        to_image(torch.rand(1, 3, 8, 8)).save(folder / "samples.png")
    local = Studio(Catalogue(tmp_path / "runs", torch.device("cpu")), tmp_path / "scratch")
    assert list(local.reports()) == ["quickdraw (generate)"]
    table, pictures, files, _message = local.report("quickdraw (generate)")
    assert table == "# report 2026-02-01_00-00-00\n" and len(pictures) == 1
    assert all(Path(f).is_relative_to(local.workdir) for f in files) and len(files) == 3
    assert "no compare.py report called" in local.report("../../etc")[3]


def test_a_programming_error_is_the_generic_message_on_the_page_and_a_traceback_in_the_server_log(
    studio, monkeypatch, caplog
):
    """A bug is not the user's to fix: the page says where to look, never what a KeyError says,
    and the server's log has the whole traceback; a ZooError stays the user's message."""

    def broken(*args, **kwargs):
        raise KeyError("a bug in genzoo")

    monkeypatch.setattr(studio.catalogue, "model", broken)
    with caplog.at_level("ERROR", logger="zoo.studio"):
        grey, gallery, moved, message = studio.colourise(key(studio, "cinn", "colour"), None)
    assert grey is None and gallery == [] and moved is None
    assert "internal error, see the server log (KeyError)" in message and "a bug in genzoo" not in message
    [record] = caplog.records
    assert record.exc_info[0] is KeyError and "a bug in genzoo" in caplog.text and "Traceback" in caplog.text

    monkeypatch.setattr(studio.catalogue, "load", broken)  # one model's failure inside a per-model loop
    gallery, message = studio.samples("quickdraw", n=4)
    assert gallery == [] and message.count("internal error, see the server log (KeyError)") == len(ENCODERS) + 1
