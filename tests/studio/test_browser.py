"""The studio in a real browser (Debian's headless Chromium through Selenium): the page is served
on 127.0.0.1, strokes drawn with the mouse on canvases A and B reach every encoding model, and
the reconstructions and morphs appear; an upload that is not a picture, and a huge greyscale scan
(refused before anything decodes it), get a message in the page; a test photo is coloured 8 ways,
with a reference's colours transferred, and "More" draws new colourings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from tests.studio import browser as b
from tests.studio.test_actions import ENCODERS

WHY = b.missing_browser()
if WHY is not None and os.environ.get("CI"):  # .ci/run installs Chromium, so CI always runs this
    raise RuntimeError(f"CI must run the browser test: {WHY}")
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no browser test here: {WHY}")


@pytest.fixture(scope="module")
def page(studio_runs):
    from bench.studio import free_port
    from zoo.studio.__main__ import StudioOptions, serve

    blocks, url = serve(StudioOptions(runs_dir=str(studio_runs), port=free_port()), block=False)
    driver = b.chromium()
    try:
        yield driver, url
    finally:
        driver.quit()
        blocks.close()


def test_strokes_drawn_with_the_mouse_are_reconstructed_and_morphed_by_every_encoder(page, tmp_path):
    driver, url = page
    assert url.startswith("http://127.0.0.1:"), url  # bound to this machine only
    driver.get(url)
    b.wait_for(lambda: b.css(driver, "#canvas-a canvas"), what="the sketchpads")
    before = b.answer_number(b.text(driver, "dance-message"))
    b.click(driver, "dance-go")
    assert "canvas A is empty" in b.answer(driver, "dance-message", before)

    b.draw(driver, "canvas-a", b.STROKE)
    b.draw(driver, "canvas-b", b.HOUSE)
    before = b.answer_number(b.text(driver, "dance-message"))
    morphs_before = b.answer_number(b.text(driver, "morph-message"))
    b.click(driver, "dance-go")
    message = b.answer(driver, "dance-message", before)
    for model in ENCODERS:
        assert f"{model} (" in message, message
    b.answer(driver, "morph-message", morphs_before)
    b.wait_for(lambda: len(b.css(driver, "#dance-morphs img")) >= len(ENCODERS), what="one morph per encoder")
    recon_captions = b.gallery_captions(driver, "dance-recons")
    morph_captions = b.gallery_captions(driver, "dance-morphs")
    assert [c.split(":")[0] for c in recon_captions] == ENCODERS, recon_captions
    assert [c.split(":")[0] for c in morph_captions] == ENCODERS, morph_captions
    gifs = [img.get_attribute("src") for img in b.css(driver, "#dance-morphs img")]
    assert all(".gif" in src for src in gifs), gifs
    pngs = [img.get_attribute("src") for img in b.css(driver, "#dance-recons img")]
    assert all(".png" in src for src in pngs), pngs  # what the download buttons save
    shots = Path(os.environ.get("ZOO_SCREENSHOTS", tmp_path))
    assert b.screenshot(driver, shots / "studio-browser-test.png").stat().st_size > 10_000


def test_an_upload_that_is_not_a_picture_or_is_huge_gets_a_message_in_the_page(page, tmp_path, monkeypatch):
    driver, url = page
    decoded = []
    original = ImageFile.ImageFile.load

    def load(image):
        decoded.append(image.size)
        return original(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)  # the server runs in this process
    driver.get(url)
    b.open_tab(driver, "Colourise")
    fake = tmp_path / "holiday.png"
    fake.write_text("not a picture at all")
    huge = tmp_path / "scan.png"
    Image.new("L", (12000, 12000)).save(huge)  # 144 megapixels, 140 kB
    for upload, refusal in [
        (fake, "the photo (holiday.png) is not a picture the studio can read"),
        (huge, "12000x12000 pixels, more than the studio reads"),
    ]:
        b.wait_for(lambda: b.css(driver, "#colour-photo input[type=file]")[0], what="the upload").send_keys(str(upload))
        b.wait_for(
            lambda: upload.name in str([img.get_attribute("src") for img in b.css(driver, "#colour-photo img")]),
            what=f"the preview of {upload.name}",
        )
        _, message = b.timed_click(driver, "colour-go", "colour-message")
        assert refusal in message, message
    assert (12000, 12000) not in decoded, "the upload was decoded on the server"


def test_a_test_photo_is_coloured_eight_ways_with_its_reference_transferred_and_more_draws_again(page, tmp_path):
    driver, url = page
    driver.get(url)
    b.open_tab(driver, "Colourise")  # the cINN is the run offered first
    assert "test image 0" in b.timed_click(driver, "colour-photo-fill", "colour-message")[1]
    assert "test image 1" in b.timed_click(driver, "colour-reference-fill", "colour-message")[1]
    _, message = b.timed_click(driver, "colour-go", "colour-message")
    assert "8 colourings at temperature 1, seed 0" in message, message
    assert b.gallery_captions(driver, "colour-gallery") == [f"colouring {i}" for i in range(1, 9)]
    assert b.css(driver, "#colour-grey img") and b.css(driver, "#colour-transfer img")  # grey input, transfer
    drawn = {img.get_attribute("src") for img in b.css(driver, "#colour-gallery img")}
    _, message = b.timed_click(driver, "colour-more", "colour-message")
    assert "8 colourings at temperature 1, seed 1" in message, message
    b.wait_for(
        lambda: {img.get_attribute("src") for img in b.css(driver, "#colour-gallery img")} - drawn,
        what="new colourings",
    )
    shots = Path(os.environ.get("ZOO_SCREENSHOTS", tmp_path))
    assert b.screenshot(driver, shots / "studio-colourise-browser-test.png").stat().st_size > 10_000
