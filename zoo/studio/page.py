"""The studio's page: five tabs laid out with Gradio over ``zoo/studio/actions.py``.

Everything the browser sends back is a value it was offered (a data set name, a run key, a test
index) or a picture; run keys are looked up in the catalogue, never opened as paths.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from zoo.studio.actions import CANVAS, Studio
from zoo.studio.pictures import Unreadable

BLANK = np.zeros((CANVAS, CANVAS, 3), dtype=np.uint8)  # black paper: Quick, Draw! draws white ink on black
# system fonts only: the page fetches nothing from the internet
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])

GALLERY_COLUMNS = {"dance-recons": 4, "dance-morphs": 4, "samples-gallery": 5, "colour-gallery": 8, "compare-images": 3}
CSS = (
    # a report's wide table scrolls sideways instead of wrapping every cell letter by letter
    "#compare-table table { display: block; overflow-x: auto; } "
    "#compare-table th, #compare-table td { white-space: nowrap; } "
    # a 32x32 test image fills its upload box, its pixels kept sharp
    ".zoo-upload img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; } "
    # a gallery keeps its columns whatever the number of pictures (Gradio shrinks the grid to the
    # pictures: one model's answer became a square cell as wide as the page, scrolled out of view)
    + " ".join(
        f"#{elem_id} .grid-container {{ grid-template-columns: repeat({columns}, minmax(0, 1fr)) !important; }}"
        for elem_id, columns in GALLERY_COLUMNS.items()
    )
)


def upload(**options: Any) -> gr.Image:
    """Gradio's image upload, except that a file it cannot decode reaches the action as
    ``Unreadable`` (and so becomes a message in the page) instead of a bare "Error" badge."""
    # image_mode=None: Gradio hands over the uploaded file as it is, undecoded; the action checks
    # its size from the header before anything decodes it (a huge greyscale PNG used to be
    # converted to RGB here first: seconds of CPU and gigabytes before any check)
    component = gr.Image(type="filepath", image_mode=None, height=220, elem_classes=["zoo-upload"], **options)
    decode = component.preprocess

    def preprocess(payload):
        try:
            return decode(payload)
        except Exception as e:  # any undecodable upload: Gradio raises from PIL
            name = payload.orig_name if hasattr(payload, "orig_name") else None
            return Unreadable(name or "the upload", str(e).splitlines()[0])

    component.preprocess = preprocess
    return component


def unbounded(component: gr.Number | gr.Slider) -> gr.Number | gr.Slider:
    """A number box or slider whose typed value reaches the action as it is: Gradio's own bounds
    check ends in a red toast; the action says what range it takes, in the page's message."""
    component.preprocess = lambda payload: payload
    return component


def _sketchpad(name: str) -> gr.Sketchpad:
    return gr.Sketchpad(
        value=BLANK,
        label=f"doodle {name}",
        elem_id=f"canvas-{name.lower()}",
        canvas_size=(CANVAS, CANVAS),
        fixed_canvas=True,
        image_mode="RGBA",
        type="numpy",
        # size 6 draws lines 12 canvas pixels wide (measured in Chromium): 1.4 pixels of a 32-pixel
        # test doodle, near Quick, Draw!'s 1.5, so a line drawn over one inks whole pixels
        brush=gr.Brush(default_size=6, colors=["#ffffff"], color_mode="fixed"),
        layers=False,
        transforms=(),
        height=CANVAS + 120,
    )


def test_picture(studio: Studio, need: str):
    """The "Use a test image" action, saying over the picture which run loads first."""

    def fill(key: str | None, index: Any, progress=gr.Progress()):  # noqa: B008
        loading(studio, progress, need, key)
        return studio.test_picture(key, index)

    return fill


def _picture_input(label: str, elem_id: str, index: int) -> tuple[gr.Image, gr.Number, gr.Button]:
    """A column: an upload (``elem_id``), and a test image number with the button that fills it in
    (``<elem_id>-fill``)."""
    with gr.Column():
        picture = upload(label=label, elem_id=elem_id)
        with gr.Row():
            number = unbounded(gr.Number(index, precision=0, label="test image #"))
            fill = gr.Button("Use a test image", elem_id=f"{elem_id}-fill")
    return picture, number, fill


def _gallery(label: str, elem_id: str) -> gr.Gallery:
    """Pictures side by side, whole (never cropped to squares: a reconstruction pair is wide), and
    downloaded as PNG (file paths, the morphs' GIFs, stay as they are). Its height follows its
    pictures: in a fixed-height box a single picture's square cell was scrolled past, blank."""
    columns = GALLERY_COLUMNS[elem_id]
    return gr.Gallery(label=label, elem_id=elem_id, columns=columns, height="auto", object_fit="contain", format="png")


def _choice(choices: list[str], *preferred: str | None) -> str | None:
    return next((p for p in preferred if p in choices), choices[0] if choices else None)


def loading(studio: Studio, progress: gr.Progress, need: str, choice: str | None) -> None:
    """Say over the answer's pictures which runs load first (seconds each, the first time): a
    first answer is not silent. Gradio's progress costs no extra round trip, as a separate
    message event before the action would (about a second per click, measured)."""
    cold = studio.cold_runs(need, choice)
    if cold:
        progress(0, desc=f"loading {', '.join(cold)} (first use: a few seconds each), then answering...")


DOODLES = ("quickdraw", "quickdraw_mini")  # the data sets a doodle tab opens on, when trained


def build_page(studio: Studio) -> gr.Blocks:
    """The page: a header with the runs, one tab per function below. Every page load (and 'Refresh
    runs') scans ``runs_dir`` again and updates every tab's choices and notes, keeping a choice
    that still exists: a reload never shows the runs as they were when the server started."""
    cat = studio.catalogue
    with gr.Blocks(title="genzoo studio") as page:
        gr.Markdown(
            "# genzoo studio\nEvery finished run under "
            f"`{cat.runs_dir}`, side by side: draw, reconstruct, morph, sample, style-mix, colourise, compare."
        )
        with gr.Row():
            refresh = gr.Button("Refresh runs", scale=0, elem_id="refresh")
            listing = gr.Markdown(elem_id="listing")
        with gr.Tabs():
            dance, dance_note = _dance_tab(studio)
            samples, samples_note = _samples_tab(studio)
            style, style_note = _style_tab(studio)
            colour, colour_note = _colourise_tab(studio)
            report = _compare_tab(studio)
        pickers = [dance, samples, style, colour, report]

        def refreshed(*chosen: str | None):
            cat.refresh()
            choices = [
                cat.data_sets("encode"),
                cat.data_sets("sample"),
                cat.keys("style_mix"),
                cat.keys("colourise"),
                list(studio.reports()),
            ]
            preferred = [
                DOODLES,
                DOODLES,
                (),
                cat.keys("transfer")[-1:],
                ("quickdraw (generate)", "quickdraw_mini (generate)"),
            ]
            values = [_choice(c, now, *p) for c, now, p in zip(choices, chosen, preferred, strict=True)]
            return (
                _listing(studio),
                *(gr.update(choices=c, value=v) for c, v in zip(choices, values, strict=True)),
                studio.note("encode", values[0]),
                studio.note("sample", values[1]),
                studio.note("style_mix"),
                studio.note("colourise"),
            )

        outputs = [listing, *pickers, dance_note, samples_note, style_note, colour_note]
        refresh.click(refreshed, pickers, outputs)
        page.load(refreshed, pickers, outputs)
    return page


def _doodle_column(name: str, index: int) -> tuple[gr.Sketchpad, gr.Number, gr.Button]:
    """A sketchpad, and a test doodle number with the button that puts it on the canvas."""
    with gr.Column():
        canvas = _sketchpad(name)
        with gr.Row():
            number = unbounded(gr.Number(index, precision=0, label="test doodle #"))
            fill = gr.Button("Use a test doodle", elem_id=f"fill-{name.lower()}")
    return canvas, number, fill


def _picker(choices: list[str], value: str | None, label: str, elem_id: str) -> gr.Dropdown:
    """A dropdown of data sets, runs or reports; a value it sends back is looked up, never opened,
    and one that vanished since the page loaded gets the action's message (hence custom values)."""
    return gr.Dropdown(choices, value=value, label=label, elem_id=elem_id, allow_custom_value=True)


def _dance_tab(studio: Studio) -> tuple[gr.Dropdown, gr.Markdown]:
    """1. Draw two doodles (or take test ones); every encoder reconstructs them and morphs A into B."""
    with gr.Tab("Draw and dance", id="dance"):
        encode_sets = studio.catalogue.data_sets("encode")
        data = _picker(encode_sets, _choice(encode_sets, *DOODLES), "data set", "dance-data")
        note = gr.Markdown(elem_id="dance-note")
        test_a, test_b = gr.State(None), gr.State(None)  # the test index on a canvas, until drawn over
        with gr.Row():
            canvas_a, index_a, fill_a = _doodle_column("A", 0)
            canvas_b, index_b, fill_b = _doodle_column("B", 1)
        with gr.Row():
            mode = gr.Radio(["slerp", "linear"], value="slerp", label="interpolation")
            frames = unbounded(gr.Slider(4, 64, value=16, step=1, label="frames"))
            fps = unbounded(gr.Slider(2, 30, value=12, step=1, label="frames per second"))
            pingpong = gr.Checkbox(True, label="ping-pong loop (the doodle dances)")
        go = gr.Button("Reconstruct and morph", variant="primary", elem_id="dance-go")
        inputs = gr.Image(format="png", label="A | B as the models see them", elem_id="dance-inputs", height=160)
        message = gr.Markdown(elem_id="dance-message")
        recons = _gallery("reconstructions (A | B)", "dance-recons")
        morph_message = gr.Markdown(elem_id="morph-message")
        morphs = _gallery("morphs A -> B", "dance-morphs")

        def fill(data: str, index: Any, progress=gr.Progress()):  # noqa: B008
            loading(studio, progress, "encode", data)
            value, said = studio.test_doodle(data, index)
            return (value if value is not None else gr.update()), (None if value is None else int(index)), said

        def reconstruct(data, a, b, ta, tb, progress=gr.Progress()):  # noqa: B008 (Gradio's way)
            loading(studio, progress, "encode", data)
            out = studio.reconstruct(data, a, b, ta, tb)
            return out.inputs, out.pictures, out.message

        def morph(data, a, b, ta, tb, n, m, loop, rate):
            out = studio.morph(data, a, b, ta, tb, n, m, bool(loop), rate)
            return out.pictures, out.message

        fill_a.click(fill, [data, index_a], [canvas_a, test_a, message])
        fill_b.click(fill, [data, index_b], [canvas_b, test_b, message])
        canvas_a.clear(lambda: None, None, test_a)
        canvas_b.clear(lambda: None, None, test_b)
        data.change(lambda: (None, None), None, [test_a, test_b])  # test indices of the old data
        data.change(lambda d: studio.note("encode", d), data, note)
        pair = [data, canvas_a, canvas_b, test_a, test_b]
        go.click(reconstruct, pair, [inputs, recons, message]).then(
            morph, [*pair, frames, mode, pingpong, fps], [morphs, morph_message]
        )
    return data, note


def _samples_tab(studio: Studio) -> tuple[gr.Dropdown, gr.Markdown]:
    """2. Every model's samples from one seed, each control going to the models that take it."""
    with gr.Tab("Samples", id="samples"):
        sample_sets = studio.catalogue.data_sets("sample")
        data = _picker(sample_sets, _choice(sample_sets, *DOODLES), "data set", "samples-data")
        note = gr.Markdown(elem_id="samples-note")
        with gr.Row():
            n = unbounded(gr.Slider(4, 64, value=16, step=4, label="samples per model"))
            seed = unbounded(gr.Number(0, precision=0, label="seed", elem_id="samples-seed"))
            temperature = gr.Slider(0.05, 1.5, value=0.7, step=0.05, label="temperature (flows)")
            truncation = gr.Slider(0.0, 1.0, value=0.7, step=0.05, label="truncation psi (ALAE)")
            label = unbounded(gr.Number(-1, precision=0, label="class (conditional models; -1: each in turn)"))
        go = gr.Button("Draw samples", variant="primary", elem_id="samples-go")
        message = gr.Markdown(elem_id="samples-message")
        gallery = _gallery("samples, one grid per model", "samples-gallery")

        def samples(data, n, seed, temperature, truncation, label, progress=gr.Progress()):  # noqa: B008
            loading(studio, progress, "sample", data)
            return studio.samples(data, n, seed, temperature, truncation, label)

        data.change(lambda d: studio.note("sample", d), data, note)
        go.click(samples, [data, n, seed, temperature, truncation, label], [gallery, message])
    return data, note


def _style_tab(studio: Studio) -> tuple[gr.Dropdown, gr.Markdown]:
    """3. A style-based model's source style put on a destination at chosen layers."""
    with gr.Tab("Style mixing", id="style"):
        mixers = studio.catalogue.keys("style_mix")
        first = _choice(mixers)
        choices, presets, note = studio.style_layers(first) if first else ([], {}, "")
        run = _picker(mixers, first, "run (a style-based model: ALAE)", "style-run")
        note = gr.Markdown(elem_id="style-note")
        preset_state = gr.State(presets)
        with gr.Row():
            source, source_index, source_fill = _picture_input("source (gives the style)", "style-source", 0)
            destination, destination_index, destination_fill = _picture_input("destination", "style-destination", 1)
        layers = gr.CheckboxGroup(
            choices, value=presets.get("coarse", []), label="layers that take the source's style", info=note
        )
        with gr.Row():
            buttons = {
                name: gr.Button(name, size="sm", elem_id=f"preset-{name}")
                for name in ("coarse", "middle", "fine", "none", "all")
            }
        go = gr.Button("Mix styles", variant="primary", elem_id="style-go")
        message = gr.Markdown(elem_id="style-message")
        with gr.Row():
            source_rec = gr.Image(format="png", label="source reconstruction", height=200)
            destination_rec = gr.Image(format="png", label="destination reconstruction", height=200)
            mixed = gr.Image(format="png", label="mixed", elem_id="style-mixed", height=200)

        def new_run(key):
            choices, presets, note = studio.style_layers(key)
            return gr.update(choices=choices, value=presets.get("coarse", []), info=note), presets

        run.change(new_run, run, [layers, preset_state])
        for name, button in buttons.items():
            button.click(lambda p, name=name: p.get(name, []), preset_state, layers)
        source_fill.click(test_picture(studio, "style_mix"), [run, source_index], [source, message])
        destination_fill.click(test_picture(studio, "style_mix"), [run, destination_index], [destination, message])

        def style_mix(key, src, dst, chosen, progress=gr.Progress()):  # noqa: B008
            loading(studio, progress, "style_mix", key)
            return studio.style_mix(key, src, dst, chosen)

        go.click(style_mix, [run, source, destination, layers], [source_rec, destination_rec, mixed, message])
    return run, note


def _colourise_tab(studio: Studio) -> tuple[gr.Dropdown, gr.Markdown]:
    """4. A photo made grey and coloured n ways; with a cINN, a reference photo's colours transferred."""
    with gr.Tab("Colourise", id="colourise"):
        colourisers, cinns = studio.catalogue.keys("colourise"), studio.catalogue.keys("transfer")
        first = _choice(colourisers, cinns[-1] if cinns else None)
        run = _picker(colourisers, first, "run (a colouriser: cinn or colour_regression)", "colour-run")
        note = gr.Markdown(elem_id="colour-note")
        seed = gr.State(0)
        with gr.Row():
            photo, photo_index, photo_fill = _picture_input("photo to colour", "colour-photo", 0)
            reference, reference_index, reference_fill = _picture_input(
                "reference photo (colour transfer, cINN)", "colour-reference", 1
            )
        temperature = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="temperature (cINN)")
        with gr.Row():
            go = gr.Button("Colourise", variant="primary", elem_id="colour-go")
            more = gr.Button("More (a new draw)", elem_id="colour-more")
        message = gr.Markdown(elem_id="colour-message")
        with gr.Row():
            grey = gr.Image(format="png", label="grey input", height=200, elem_id="colour-grey")
            transferred = gr.Image(
                format="png", label="reference | its colours on the photo", height=200, elem_id="colour-transfer"
            )
        colourings = _gallery("8 colourings", "colour-gallery")
        photo_fill.click(test_picture(studio, "colourise"), [run, photo_index], [photo, message])
        reference_fill.click(test_picture(studio, "colourise"), [run, reference_index], [reference, message])
        inputs, outputs = [run, photo, temperature, seed, reference], [grey, colourings, transferred, message]

        def colourise(key, picture, temperature, seed, reference, progress=gr.Progress()):  # noqa: B008
            loading(studio, progress, "colourise", key)
            return studio.colourise(key, picture, temperature, seed, reference)

        go.click(colourise, inputs, outputs)
        more.click(lambda s: int(s) + 1, seed, seed).then(colourise, inputs, outputs)
    return run, note


def _compare_tab(studio: Studio) -> gr.Dropdown:
    """5. The newest compare.py report of a data set: its table, images and files."""
    with gr.Tab("Compare", id="compare"):
        labels = list(studio.reports())
        pick = _picker(
            labels,
            _choice(labels, "quickdraw (generate)", "quickdraw_mini (generate)"),
            "newest compare.py report of",
            "compare-pick",
        )
        go = gr.Button("Show report", variant="primary", elem_id="compare-go")
        message = gr.Markdown(elem_id="compare-message")
        images = _gallery("the report's images", "compare-images")
        files = gr.File(label="the report's files", file_count="multiple", interactive=False)  # to download, not remove
        table = gr.Markdown(elem_id="compare-table")
        go.click(studio.report, pick, [table, images, files, message])
    return pick


def _listing(studio: Studio) -> str:
    entries = list(studio.catalogue.entries.values())
    if not entries:
        return (
            f"No finished run under `{studio.catalogue.runs_dir}` yet. Train one (`python train.py model=vae`: "
            "a VAE on the Quick, Draw! doodles inside genzoo, a few minutes on a laptop), then reload this page."
        )
    by_data: dict[str, list[str]] = {}
    for entry in sorted(entries, key=lambda e: (e.model, e.key)):
        by_data.setdefault(entry.data, []).append(
            f"{entry.model} ({entry.progress})" if entry.progress else entry.model
        )
    return "Runs: " + "; ".join(f"**{data}**: {', '.join(models)}" for data, models in sorted(by_data.items()))
