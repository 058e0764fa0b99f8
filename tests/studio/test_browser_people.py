"""The studio in a real browser as people use it (Debian's headless Chromium): every page load
sees the runs as they are, strokes drawn over a test doodle reach the models as drawn, a first
load says so, an empty runs folder shows no "None" anywhere, one model's answers are shown at a
usable size, and SIGTERM removes the uploads (a huge upload: tests/studio/test_browser.py)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import ROOT
from tests.studio import browser as b
from tests.studio.test_as_people_use_it import copied

WHY = b.missing_browser()
if WHY is not None and os.environ.get("CI"):  # .ci/run installs Chromium, so CI always runs this
    raise RuntimeError(f"CI must run the browser test: {WHY}")
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no browser test here: {WHY}")


@pytest.fixture(scope="module")
def driver():
    chromium = b.chromium()
    yield chromium
    chromium.quit()


@pytest.fixture
def serve_runs():
    """``serve_runs(runs)``: the studio on ``runs`` in this process, on a free port; its URL."""
    from bench.studio import free_port
    from zoo.studio.__main__ import StudioOptions, serve

    pages = []

    def start(runs: Path) -> str:
        blocks, url = serve(StudioOptions(runs_dir=str(runs), port=free_port()), block=False)
        pages.append(blocks)
        return url

    yield start
    for page in pages:
        page.close()


def shown(driver, elem_id: str) -> np.ndarray:
    """The picture an image component shows, as the browser fetched it: (H, W) grey."""
    src = b.wait_for(lambda: b.css(driver, f"#{elem_id} img")[0].get_attribute("src"), what=f"#{elem_id}'s picture")
    with urllib.request.urlopen(src) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("L"))


def assert_whole_and_visible(driver, gallery: str) -> None:
    """The gallery's first picture lies inside the gallery's box (not scrolled out of it) at a
    size one can look at: one model's answer used to be a page-wide square cell, its picture
    below the box's fold, the box looking blank."""
    b.wait_for(lambda: b.css(driver, f"#{gallery} img"), what=f"a picture in #{gallery}")
    box, picture = driver.execute_script(
        "const r = e => { const b = e.getBoundingClientRect(); return [b.top, b.bottom, b.width]; };"
        f"const g = document.getElementById('{gallery}');"
        "return [r(g), r(g.querySelector('img'))];"
    )
    assert box[0] <= picture[0] and picture[1] <= box[1], (gallery, box, picture)
    assert 150 <= picture[2] <= box[2] / 2, (gallery, box, picture)


def test_one_model_drawn_over_then_a_reload_after_runs_changed(driver, serve_runs, trained_runs, tmp_path, monkeypatch):
    """With only a VAE trained (the README's first run): a line drawn over a test doodle reaches
    the model as drawn and its pictures are whole in their galleries. Then the VAE is deleted and an
    alpha-GAN finishes: a reload lists the runs as they are, and the first click, while the new run
    loads (slowly here), says which run it is loading."""
    runs = tmp_path / "runs"
    copied(trained_runs, runs, "vae")
    driver.get(serve_runs(runs))
    assert "vae (" in b.wait_for(lambda: b.text(driver, "listing"), what="the list of runs")
    for fill in ("fill-a", "fill-b"):
        assert "on the canvas" in b.timed_click(driver, fill, "dance-message")[1]
    time.sleep(1)  # the canvas takes its new background
    b.draw(driver, "canvas-a", [[(-0.8, 0.5), (0.8, 0.5)]])  # one line across the lower half
    morphs = b.answer_number(b.text(driver, "morph-message"))
    _, said = b.timed_click(driver, "dance-go", "dance-message")
    assert "vae (" in said, said
    b.answer(driver, "morph-message", morphs)
    for gallery in ("dance-recons", "dance-morphs"):  # one model's pictures, whole
        assert_whole_and_visible(driver, gallery)
    seen = shown(driver, "dance-inputs")[2:130, 2:130][::4, ::4].astype(np.float32) / 255  # A, (32, 32)
    from zoo.trained import load_trained

    test = load_trained(next((runs / "vae-quickdraw").iterdir())).data.test
    doodle = test.batch(torch.tensor([0]))[0][0, 0].numpy()
    rows = np.nonzero((seen - doodle).max(axis=1) > 0.5)[0]
    # the line, one band of 1-3 pixel rows in the lower half, inked across most of the width...
    assert 1 <= len(rows) <= 3 and rows.min() > 16 and np.ptp(rows) == len(rows) - 1, rows
    assert (seen[rows].max(axis=0) > 0.5).sum() > 16
    kept = np.ones_like(doodle, dtype=bool)
    kept[rows.min() - 1 : rows.max() + 2] = False
    assert np.abs(seen - doodle)[kept].max() < 1e-6  # ...and the test doodle everywhere else
    b.screenshot(driver, Path(os.environ.get("ZOO_SCREENSHOTS", tmp_path)) / "studio-drawn-over-test-doodle.png")

    shutil.rmtree(runs / "vae-quickdraw")
    copied(trained_runs, runs, "alpha_gan")
    from zoo.studio import catalogue

    load = catalogue.load_trained

    def slow(*args, **kwargs):  # a big checkpoint on a slow disk
        time.sleep(3)
        return load(*args, **kwargs)

    monkeypatch.setattr(catalogue, "load_trained", slow)
    driver.refresh()
    listing = b.wait_for(lambda: (t := b.text(driver, "listing")) and "alpha_gan" in t and t, what="the new run")
    assert "vae" not in listing, listing
    b.open_tab(driver, "Samples")
    assert "alpha_gan" in b.text(driver, "samples-note")
    before = b.answer_number(b.text(driver, "samples-message"))
    b.click(driver, "samples-go")
    body = lambda: driver.find_element("tag name", "body").text  # noqa: E731
    loading = b.wait_for(lambda: next((line for line in body().splitlines() if "loading alpha_gan-" in line), None))
    assert "first use" in loading, loading
    said = b.answer(driver, "samples-message", before)
    assert "alpha_gan" in said and "vae" not in said and "None" not in said, said
    assert_whole_and_visible(driver, "samples-gallery")


def test_an_empty_runs_folder_says_what_to_train_and_sigterm_removes_the_uploads(driver, tmp_path):
    """The real ``python -m zoo.studio`` on an empty runs folder: every button says what to train
    (never "None"); an upload lands in the studio's own temporary folder, which SIGTERM removes."""
    from bench.studio import free_port

    temp, port, runs = tmp_path / "tmp", free_port(), tmp_path / "runs"
    temp.mkdir()
    runs.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "-m", "zoo.studio", f"runs_dir={runs}", f"port={port}"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        b.wait_for(lambda: urllib.request.urlopen(url, timeout=2).status == 200, 90, "the studio to start")
        driver.get(url)
        assert "No finished run" in b.wait_for(lambda: b.text(driver, "listing"), what="the listing")
        said = [b.text(driver, "dance-note"), b.timed_click(driver, "dance-go", "dance-message")[1]]
        said.append(b.timed_click(driver, "fill-a", "dance-message")[1])
        for tab, button, message in [
            ("Samples", "samples-go", "samples-message"),
            ("Style mixing", "style-go", "style-message"),
            ("Compare", "compare-go", "compare-message"),
            ("Colourise", "colour-go", "colour-message"),
        ]:
            b.open_tab(driver, tab)
            said.append(b.timed_click(driver, button, message)[1])
            assert "None" not in driver.find_element("tag name", "body").text, tab
        for message in said:
            assert "train" in message or "compare.py" in message, message
        b.screenshot(driver, Path(os.environ.get("ZOO_SCREENSHOTS", tmp_path)) / "studio-no-runs.png")

        photo = tmp_path / "holiday.png"  # in the Colourise tab, open last
        Image.new("RGB", (64, 48), (200, 120, 40)).save(photo)
        b.wait_for(lambda: b.css(driver, "#colour-photo input[type=file]")[0], what="the upload").send_keys(str(photo))
        b.wait_for(lambda: b.css(driver, "#colour-photo img"), what="the upload's preview")
        [scratch] = temp.glob("genzoo-studio-*")
        b.wait_for(lambda: list(scratch.rglob("holiday.png")), 30, "the upload in the studio's folder")
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    finally:
        server.kill()
    assert not scratch.exists(), f"SIGTERM left {scratch} behind:\n{output}"
    assert "Traceback" not in output, output
