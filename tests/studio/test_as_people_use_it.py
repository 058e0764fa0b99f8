"""The studio as people use it (issue "the first five minutes"): the runs as they are at every
look, drawing over a test doodle, out-of-range numbers, empty runs folders with no "None" in any
message, what a tab needs said before the first click, and huge uploads refused before decoding."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from tests.studio.test_actions import drawing, key
from zoo.studio.actions import CANVAS, Studio
from zoo.studio.catalogue import Catalogue
from zoo.studio.pictures import to_canvas


def copied(trained_runs: dict[str, Path], runs: Path, *models: str) -> None:
    for model in models:
        shutil.copytree(trained_runs[model], runs / f"{model}-quickdraw" / trained_runs[model].name)


# -- the runs as they are ---------------------------------------------------------------------
def test_weights_replaced_on_disk_are_loaded_again_never_served_stale(trained_runs, tmp_path):
    copied(trained_runs, tmp_path / "runs", "vae")
    studio = Studio(Catalogue(tmp_path / "runs", torch.device("cpu")), tmp_path / "scratch")
    vae = key(studio, "vae")
    before = studio.samples("quickdraw", n=4, seed=0)[0][0][0]
    checkpoint = studio.catalogue.entries[vae].weights
    state = torch.load(checkpoint, weights_only=True)
    for name, tensor in state["model"].items():
        if tensor.is_floating_point():
            state["model"][name] = tensor + 0.5  # another training's weights, the same shapes
    torch.save(state, checkpoint)
    after = studio.samples("quickdraw", n=4, seed=0)[0][0][0]
    assert not np.array_equal(np.asarray(before), np.asarray(after)), "the old weights were served"
    checkpoint.unlink()
    gallery, message = studio.samples("quickdraw", n=4, seed=0)
    assert gallery == [] and "was deleted" in message


# -- drawing over a test doodle ---------------------------------------------------------------
def test_strokes_over_a_test_doodle_are_what_the_canvas_shows_pixel_for_pixel(studio):
    canvas, _ = studio.test_doodle("quickdraw", 3)
    run = studio.catalogue.load(key(studio, "vae"))
    exact = run.data.test.batch(torch.tensor([3]))[0]  # (1, 1, 32, 32)
    cross = drawing([(-0.9, -0.9), (0.9, 0.9)], [(-0.9, 0.9), (0.9, -0.9)])  # 14-pixel strokes
    canvas["layers"] = cross["layers"]
    seen = studio._input("quickdraw", canvas, 3, "A")  # (1, 1, 32, 32)
    ink = torch.from_numpy(np.asarray(cross["layers"][0])[..., 3] > 0)  # (280, 280) where the X is
    covered = torch.nn.functional.adaptive_max_pool2d(ink[None, None].float(), 32)[0, 0] > 0  # (32, 32)
    assert torch.equal(seen[0, 0][~covered], exact[0, 0][~covered]), "the doodle is kept where nothing was drawn"
    diagonal = torch.arange(2, 30)
    assert (seen[0, 0, diagonal, diagonal] > 0.9).all(), "the X is drawn where it was drawn"
    # one line of the default brush (12 canvas pixels) over the doodle stays visible, even where
    # it falls between two rows of bitmap pixels (y = 0.5: canvas row 210, between rows 23 and 24)
    canvas["layers"] = drawing([(-0.8, 0.5), (0.8, 0.5)], width=12)["layers"]
    line = studio._input("quickdraw", canvas, 3, "A")
    assert (line[0, 0, 23, 4:28] - exact[0, 0, 23, 4:28]).min() > 0.6


def test_a_test_doodle_shown_on_the_canvas_comes_back_exactly():
    image = torch.randint(0, 256, (1, 32, 32)).float() / 255
    from zoo.studio.pictures import on_test_image

    assert torch.equal(on_test_image({"background": to_canvas(image, CANVAS), "layers": []}, image)[0], image)


# -- numbers out of range ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda s: s.test_doodle("quickdraw", -5)[1], "test doodle # -5 is out of range: use a whole number from 0 to"),
        (lambda s: s.test_doodle("quickdraw", None)[1], "test doodle # is empty"),
        (lambda s: s.samples("quickdraw", 4, 2**80)[1], "seed 1,208,925,819,614,629,174,706,176 is out of range"),
        (lambda s: s.samples("quickdraw", 4, 0.5)[1], "seed 0.5 is out of range"),
        (
            lambda s: s.samples("quickdraw", 1000)[1],
            "samples per model 1,000 is out of range: use a whole number from 1 to 64",
        ),
        (lambda s: s.morph("quickdraw", None, None, frames=1000).message, "frames 1,000 is out of range"),
        (lambda s: s.test_picture(key(s, "alae"), 10**9)[1], "test image # 1,000,000,000 is out of range"),
    ],
    ids=["negative index", "empty index", "huge seed", "fractional seed", "too many samples", "frames", "test image"],
)
def test_out_of_range_numbers_get_the_pages_own_message(studio, call, said):
    message = call(studio)
    assert said in message and "internal error" not in message, message


def test_a_seed_anywhere_in_range_draws(studio):
    gallery, message = studio.samples("quickdraw", 4, 2**63 - 1)
    assert len(gallery) == 6, message


# -- an empty runs folder: no "None" anywhere -------------------------------------------------
def test_with_no_runs_every_answer_says_what_to_train_and_never_none(tmp_path):
    (tmp_path / "runs").mkdir()
    studio = Studio(Catalogue(tmp_path / "runs", torch.device("cpu")), tmp_path / "scratch")
    said = [
        studio.test_doodle(None, 0)[1],
        studio.reconstruct(None, None, None).message,
        studio.morph(None, None, None).message,
        studio.samples(None)[1],
        studio.style_layers(None)[2],
        studio.test_picture(None, 0)[1],
        studio.style_mix(None, None, None, [])[3],
        studio.colourise(None, None)[3],
        studio.report(None)[3],
        *(studio.note(need) for need in ("encode", "sample", "style_mix", "colourise")),
    ]
    for message in said:
        assert "None" not in message and ("train" in message or "compare.py" in message), message
    assert "python train.py model=vae" in studio.note("encode")
    assert "python train.py model=cinn data=flowers64" in studio.colourise(None, None)[3]


def test_each_tab_says_before_the_first_click_which_runs_answer_and_which_cannot(studio):
    dance = studio.note("encode", "quickdraw")
    assert "**vae**" in dance and "dcgan (no encoder)" in dance
    samples = studio.note("sample", "quickdraw")
    assert "**dcgan**" in samples and "Not in this tab" not in samples
    assert "**alae**" in studio.note("style_mix") and "**cinn**" in studio.note("colourise")
    assert "No run here can encode" in studio.note("encode", "colour")


def test_a_click_says_at_once_which_runs_load_first(trained_runs, tmp_path):
    copied(trained_runs, tmp_path / "runs", "vae", "glow")
    studio = Studio(Catalogue(tmp_path / "runs", torch.device("cpu")), tmp_path / "scratch")
    assert sorted(studio.cold_runs("encode", "quickdraw")) == sorted([key(studio, "vae"), key(studio, "glow")])
    assert studio.cold_runs("style_mix", key(studio, "glow")) == [key(studio, "glow")]
    studio.samples("quickdraw", 4)
    assert studio.cold_runs("encode", "quickdraw") == [], "loaded by the first answer"


# -- huge uploads -----------------------------------------------------------------------------
def test_a_huge_greyscale_upload_is_refused_from_its_header_without_being_decoded(studio, tmp_path, monkeypatch):
    """12000 x 12000 grey: 144 megapixels, a few hundred kB as PNG. Gradio used to convert it to
    RGB before the action's size check (seconds of CPU, gigabytes); now nothing decodes it."""
    from gradio.data_classes import ImageData

    from zoo.studio.page import upload

    huge = tmp_path / "huge.png"
    Image.new("L", (12000, 12000)).save(huge)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size))
    path = upload(label="photo").preprocess(ImageData(path=str(huge), orig_name="huge.png"))
    _, _, _, message = studio.colourise(key(studio, "cinn", "colour"), path)
    assert "is 12000x12000 pixels, more than the studio reads" in message, message
    assert decoded == [], "the upload was decoded before its size was checked"
