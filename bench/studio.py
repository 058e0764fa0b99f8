"""genzoo studio in a real browser on the finished runs: the README's screenshots and latencies.

    ZOO_DATA_DIR=../shared/data python -m bench.studio [runs_dir=runs] [out=docs/images] [photo=<a jpg>]

Starts ``python -m zoo.studio`` in-process on a free port, opens it in Debian's headless Chromium,
draws a cat and a house with mouse strokes on canvases A and B, clicks through every tab, saves
``studio-<tab>.png`` and prints what it measured: the time from each click until the page shows
the answer (first click: models load; later clicks: warm), and the server's own time. Before
the Colourise tab's test images, an uploaded photo (``photo=``, by default the first of
``$ZOO_DATA_DIR/flowers64``) is coloured: the first answer that needs no data set; then a
12000x12000 greyscale PNG is uploaded, which the studio must refuse.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image

from tests.studio import browser as b
from zoo.studio.__main__ import StudioOptions, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clicked(driver, button: str, message: str) -> tuple[float, str]:
    """Click ``button``, wait for a new answer in ``message``; seconds from the click to the answer
    on the page's own clock, and the answer."""
    ms, answer = b.timed_click(driver, button, message)
    return ms / 1000, answer


def twice(driver, button: str, message: str, what: str) -> None:
    """Click ``button`` twice (the first click loads what it needs, the second is warm) and print
    the seconds each took with the answer."""
    for attempt in ("first", "warm"):
        seconds, answer = clicked(driver, button, message)
        print(f"{what}, {attempt}: {seconds:.2f} s\n{answer}\n")


def first_photo() -> Path | None:
    """A colour photo to upload: the first flower of ``$ZOO_DATA_DIR/flowers64``, if there is one."""
    folder = Path(os.environ.get("ZOO_DATA_DIR", "data")) / "flowers64"
    return next(iter(sorted(folder.glob("*.jpg"))), None) if folder.is_dir() else None


def main(argv: list[str]) -> int:
    args = dict(a.split("=", 1) for a in argv)
    out = Path(args.get("out", "docs/images"))
    photo = Path(args["photo"]) if "photo" in args else first_photo()
    port = free_port()
    _, url = serve(StudioOptions(runs_dir=args.get("runs_dir", "runs"), port=port), block=False)
    driver = b.chromium(1400, 1000)
    try:
        driver.get(url)
        b.wait_for(lambda: b.css(driver, "#canvas-a canvas"), what="the page")
        b.click(driver, "refresh")  # scans runs_dir again
        b.wait_for(lambda: "Runs:" in b.text(driver, "listing"), what="the list of runs")
        print(b.text(driver, "listing"), "\n")
        b.draw(driver, "canvas-a", b.CAT)
        b.draw(driver, "canvas-b", b.HOUSE)
        for attempt in ("first (models load)", "warm", "warm"):
            morphs_before = b.answer_number(b.text(driver, "morph-message"))
            seconds, answer = clicked(driver, "dance-go", "dance-message")
            print(f"reconstructions of A and B, {attempt}: {seconds:.2f} s from the click\n{answer}\n")
            b.answer(driver, "morph-message", morphs_before)  # let the morphs finish before the next click
        seconds, answer = clicked(driver, "dance-go", "morph-message")
        print(f"reconstruct then 16-frame morphs, warm: {seconds:.2f} s from the click until every GIF\n{answer}\n")
        b.screenshot(driver, out / "studio-dance.png")
        for img in b.css(driver, "#dance-morphs img"):  # the GIFs themselves, as a user downloads them
            model = (img.get_attribute("alt") or "").split(":")[0] or "model"
            urllib.request.urlretrieve(img.get_attribute("src"), out / f"studio-morph-{model}.gif")
        # the held-out picker: test doodle 1 on canvas B, then the cat and that doodle reconstructed
        _, answer = clicked(driver, "fill-b", "dance-message")
        print(answer)
        seconds, answer = clicked(driver, "dance-go", "dance-message")
        print(f"cat | test doodle 1, reconstructions: {seconds:.2f} s\n{answer}\n")
        b.screenshot(driver, out / "studio-dance-test-doodle.png")
        b.open_tab(driver, "Samples")
        twice(driver, "samples-go", "samples-message", "samples")
        b.screenshot(driver, out / "studio-samples.png")
        b.open_tab(driver, "Style mixing")
        clicked(driver, "style-source-fill", "style-message")
        clicked(driver, "style-destination-fill", "style-message")
        b.click(driver, "preset-fine")  # the toggles switch to the fine layers
        time.sleep(1)
        twice(driver, "style-go", "style-message", "style mixing")
        b.screenshot(driver, out / "studio-style.png")
        b.open_tab(driver, "Colourise")
        if photo is not None:  # an uploaded photo: the first click loads the colouriser, not its data set
            b.wait_for(lambda: b.css(driver, "#colour-photo input[type=file]")[0], what="the upload").send_keys(
                str(photo.resolve())
            )
            b.wait_for(lambda: b.css(driver, "#colour-photo img"), what="the upload's preview")
            seconds, answer = clicked(driver, "colour-go", "colour-message")
            print(f"colourise an uploaded photo, first click (the model loads): {seconds:.2f} s\n{answer}\n")
        # a 12000x12000 greyscale scan (144 megapixels, a few hundred kB): refused, and how fast
        huge = out / "bench-huge-greyscale.png"
        Image.new("L", (12000, 12000)).save(huge)
        try:
            b.css(driver, "#colour-photo input[type=file]")[0].send_keys(str(huge.resolve()))
            b.wait_for(lambda: b.css(driver, "#colour-photo img"), what="the upload's preview")
            seconds, answer = clicked(driver, "colour-go", "colour-message")
            print(f"a 12000x12000 greyscale upload, refused: {seconds:.2f} s from the click\n{answer}\n")
        finally:
            huge.unlink()
        clicked(driver, "colour-photo-fill", "colour-message")
        clicked(driver, "colour-reference-fill", "colour-message")
        twice(driver, "colour-go", "colour-message", "colourise")
        seconds, answer = clicked(driver, "colour-more", "colour-message")
        print(f"colourise 'more': {seconds:.2f} s\n{answer}\n")
        b.screenshot(driver, out / "studio-colourise.png")
        b.open_tab(driver, "Compare")
        seconds, answer = clicked(driver, "compare-go", "compare-message")
        print(f"compare report: {seconds:.2f} s\n{answer}\n")
        b.screenshot(driver, out / "studio-compare.png")
    finally:
        driver.quit()
    print(f"screenshots in {out}/studio-*.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
