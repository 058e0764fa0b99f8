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

CSS = (
    # a report's wide table scrolls sideways instead of wrapping every cell letter by letter
    "#compare-table table { display: block; overflow-x: auto; } "
    "#compare-table th, #compare-table td { white-space: nowrap; } "
    # a 32x32 test image fills its upload box, its pixels kept sharp
    ".zoo-upload img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"
)


def upload(**options: Any) -> gr.Image:
    """Gradio's image upload, except that a file it cannot decode reaches the action as
    ``Unreadable`` (and so becomes a message in the page) instead of a bare "Error" badge."""
    component = gr.Image(type="filepath", height=220, elem_classes=["zoo-upload"], **options)
    decode = component.preprocess

    def preprocess(payload):
        try:
            return decode(payload)
        except Exception as e:  # any undecodable upload: Gradio raises from PIL
            name = payload.orig_name if hasattr(payload, "orig_name") else None
            return Unreadable(name or "the upload", str(e).splitlines()[0])

    component.preprocess = preprocess
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
        brush=gr.Brush(default_size=4, colors=["#ffffff"], color_mode="fixed"),
        layers=False,
        transforms=(),
        height=CANVAS + 120,
    )


def _picture_input(label: str, elem_id: str, index: int) -> tuple[gr.Image, gr.Number, gr.Button]:
    """A column: an upload (``elem_id``), and a test image number with the button that fills it in
    (``<elem_id>-fill``)."""
    with gr.Column():
        picture = upload(label=label, elem_id=elem_id)
        with gr.Row():
            number = gr.Number(index, precision=0, label="test image #", minimum=0)
            fill = gr.Button("Use a test image", elem_id=f"{elem_id}-fill")
    return picture, number, fill


def _gallery(label: str, elem_id: str, columns: int, height: int | str = "auto") -> gr.Gallery:
    """Pictures side by side, whole (never cropped to squares: a reconstruction pair is wide), and
    downloaded as PNG (file paths, the morphs' GIFs, stay as they are)."""
    return gr.Gallery(label=label, elem_id=elem_id, columns=columns, height=height, object_fit="contain", format="png")


def _choice(choices: list[str], preferred: str | None = None) -> str | None:
    return preferred if preferred in choices else (choices[0] if choices else None)


def build_page(studio: Studio) -> gr.Blocks:
    cat = studio.catalogue
    with gr.Blocks(title="genzoo studio") as page:
        gr.Markdown(
            "# genzoo studio\nEvery finished run under "
            f"`{cat.runs_dir}`, side by side: draw, reconstruct, morph, sample, style-mix, colourise, compare."
        )
        with gr.Row():
            refresh = gr.Button("Refresh runs", scale=0, elem_id="refresh")
            listing = gr.Markdown(_listing(studio), elem_id="listing")

        with gr.Tabs():
            # -- 1. draw and dance ---------------------------------------------------------------
            with gr.Tab("Draw and dance", id="dance"):
                encode_sets = cat.data_sets("encode")
                dance_data = gr.Dropdown(encode_sets, value=_choice(encode_sets, "quickdraw"), label="data set")
                test_a, test_b = gr.State(None), gr.State(None)
                with gr.Row():
                    with gr.Column():
                        canvas_a = _sketchpad("A")
                        with gr.Row():
                            index_a = gr.Number(0, precision=0, label="test doodle #", minimum=0)
                            fill_a = gr.Button("Use a test doodle", elem_id="fill-a")
                    with gr.Column():
                        canvas_b = _sketchpad("B")
                        with gr.Row():
                            index_b = gr.Number(1, precision=0, label="test doodle #", minimum=0)
                            fill_b = gr.Button("Use a test doodle", elem_id="fill-b")
                with gr.Row():
                    mode = gr.Radio(["slerp", "linear"], value="slerp", label="interpolation")
                    frames = gr.Slider(4, 64, value=16, step=1, label="frames")
                    fps = gr.Slider(2, 30, value=12, step=1, label="frames per second")
                    pingpong = gr.Checkbox(True, label="ping-pong loop (the doodle dances)")
                dance_go = gr.Button("Reconstruct and morph", variant="primary", elem_id="dance-go")
                dance_inputs = gr.Image(
                    format="png", label="A | B as the models see them", elem_id="dance-inputs", height=160
                )
                dance_message = gr.Markdown(elem_id="dance-message")
                recons = _gallery("reconstructions (A | B)", "dance-recons", columns=4, height=300)
                morph_message = gr.Markdown(elem_id="morph-message")
                morphs = _gallery("morphs A -> B", "dance-morphs", columns=4, height=330)

                def fill(data: str, index: Any):
                    value, message = studio.test_doodle(data, index or 0)
                    return (value if value is not None else gr.update()), (None if value is None else index), message

                fill_a.click(fill, [dance_data, index_a], [canvas_a, test_a, dance_message])
                fill_b.click(fill, [dance_data, index_b], [canvas_b, test_b, dance_message])
                canvas_a.clear(lambda: None, None, test_a)
                canvas_b.clear(lambda: None, None, test_b)
                dance_data.change(lambda: (None, None), None, [test_a, test_b])  # test indices of the old data

                def reconstruct(data, a, b, ta, tb):
                    out = studio.reconstruct(data, a, b, ta, tb)
                    return out.inputs, out.pictures, out.message

                def morph(data, a, b, ta, tb, n, m, loop, rate):
                    out = studio.morph(data, a, b, ta, tb, int(n), m, bool(loop), int(rate))
                    return out.pictures, out.message

                pair = [dance_data, canvas_a, canvas_b, test_a, test_b]
                dance_go.click(reconstruct, pair, [dance_inputs, recons, dance_message]).then(
                    morph, [*pair, frames, mode, pingpong, fps], [morphs, morph_message]
                )

            # -- 2. samples --------------------------------------------------------------------
            with gr.Tab("Samples", id="samples"):
                sample_sets = cat.data_sets("sample")
                sample_data = gr.Dropdown(sample_sets, value=_choice(sample_sets, "quickdraw"), label="data set")
                with gr.Row():
                    n = gr.Slider(4, 64, value=16, step=4, label="samples per model")
                    seed = gr.Number(0, precision=0, label="seed")
                    temperature = gr.Slider(0.05, 1.5, value=0.7, step=0.05, label="temperature (flows)")
                    truncation = gr.Slider(0.0, 1.0, value=0.7, step=0.05, label="truncation psi (ALAE)")
                    label = gr.Number(-1, precision=0, label="class (conditional models; -1: each in turn)")
                sample_go = gr.Button("Draw samples", variant="primary", elem_id="samples-go")
                sample_message = gr.Markdown(elem_id="samples-message")
                sample_gallery = _gallery("samples, one grid per model", "samples-gallery", columns=5, height=330)
                sample_go.click(
                    studio.samples,
                    [sample_data, n, seed, temperature, truncation, label],
                    [sample_gallery, sample_message],
                )

            # -- 3. style mixing ---------------------------------------------------------------
            with gr.Tab("Style mixing", id="style"):
                mixers = cat.keys("style_mix")
                first = _choice(mixers)
                choices, presets, note = studio.style_layers(first) if first else ([], {}, "")
                style_run = gr.Dropdown(mixers, value=first, label="run (a style-based model: ALAE)")
                if not mixers:
                    gr.Markdown("No style-based run yet: `python train.py model=alae data=quickdraw` (or catfaces64).")
                preset_state = gr.State(presets)
                with gr.Row():
                    source, source_index, source_fill = _picture_input("source (gives the style)", "style-source", 0)
                    destination, destination_index, destination_fill = _picture_input(
                        "destination", "style-destination", 1
                    )
                layers = gr.CheckboxGroup(
                    choices, value=presets.get("coarse", []), label="layers that take the source's style", info=note
                )
                with gr.Row():
                    preset_buttons = {
                        name: gr.Button(name, size="sm", elem_id=f"preset-{name}")
                        for name in ("coarse", "middle", "fine", "none", "all")
                    }
                style_go = gr.Button("Mix styles", variant="primary", elem_id="style-go")
                style_message = gr.Markdown(elem_id="style-message")
                with gr.Row():
                    source_rec = gr.Image(format="png", label="source reconstruction", height=200)
                    destination_rec = gr.Image(format="png", label="destination reconstruction", height=200)
                    mixed = gr.Image(format="png", label="mixed", elem_id="style-mixed", height=200)

                def new_run(key):
                    choices, presets, note = studio.style_layers(key)
                    return gr.update(choices=choices, value=presets.get("coarse", []), info=note), presets

                style_run.change(new_run, style_run, [layers, preset_state])
                for name, button in preset_buttons.items():
                    button.click(lambda p, name=name: p.get(name, []), preset_state, layers)
                source_fill.click(studio.test_picture, [style_run, source_index], [source, style_message])
                destination_fill.click(
                    studio.test_picture, [style_run, destination_index], [destination, style_message]
                )
                style_go.click(
                    studio.style_mix,
                    [style_run, source, destination, layers],
                    [source_rec, destination_rec, mixed, style_message],
                )

            # -- 4. colourise ------------------------------------------------------------------
            with gr.Tab("Colourise", id="colourise"):
                colourisers = cat.keys("colourise")
                cinns = cat.keys("transfer")
                colour_run = gr.Dropdown(
                    colourisers,
                    value=_choice(colourisers, cinns[-1] if cinns else None),
                    label="run (a colouriser: cinn or colour_regression)",
                )
                if not colourisers:
                    gr.Markdown(
                        "No colouriser trained yet: `python train.py model=cinn data=flowers64` "
                        "(and `model=colour_regression` for the baseline)."
                    )
                colour_seed = gr.State(0)
                with gr.Row():
                    photo, photo_index, photo_fill = _picture_input("photo to colour", "colour-photo", 0)
                    reference, reference_index, reference_fill = _picture_input(
                        "reference photo (colour transfer, cINN)", "colour-reference", 1
                    )
                colour_temperature = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="temperature (cINN)")
                with gr.Row():
                    colour_go = gr.Button("Colourise", variant="primary", elem_id="colour-go")
                    more = gr.Button("More (a new draw)", elem_id="colour-more")
                colour_message = gr.Markdown(elem_id="colour-message")
                with gr.Row():
                    grey = gr.Image(format="png", label="grey input", height=200, elem_id="colour-grey")
                    transferred = gr.Image(
                        format="png",
                        label="reference | its colours on the photo",
                        height=200,
                        elem_id="colour-transfer",
                    )
                colourings = _gallery("8 colourings", "colour-gallery", columns=8, height=220)
                photo_fill.click(studio.test_picture, [colour_run, photo_index], [photo, colour_message])
                reference_fill.click(studio.test_picture, [colour_run, reference_index], [reference, colour_message])
                colour_inputs = [colour_run, photo, colour_temperature, colour_seed, reference]
                colour_outputs = [grey, colourings, transferred, colour_message]
                colour_go.click(studio.colourise, colour_inputs, colour_outputs)
                more.click(lambda s: int(s) + 1, colour_seed, colour_seed).then(
                    studio.colourise, colour_inputs, colour_outputs
                )

            # -- 5. compare --------------------------------------------------------------------
            with gr.Tab("Compare", id="compare"):
                labels = list(studio.reports())
                report_pick = gr.Dropdown(
                    labels, value=_choice(labels, "quickdraw (generate)"), label="newest compare.py report of"
                )
                report_go = gr.Button("Show report", variant="primary", elem_id="compare-go")
                report_message = gr.Markdown(elem_id="compare-message")
                report_images = _gallery("the report's images", "compare-images", columns=3)
                report_files = gr.File(label="the report's files", file_count="multiple")
                report_table = gr.Markdown(elem_id="compare-table")
                report_go.click(studio.report, report_pick, [report_table, report_images, report_files, report_message])

        def refreshed():
            cat.refresh()
            return (
                _listing(studio),
                gr.update(choices=cat.data_sets("encode")),
                gr.update(choices=cat.data_sets("sample")),
                gr.update(choices=cat.keys("style_mix")),
                gr.update(choices=cat.keys("colourise")),
                gr.update(choices=list(studio.reports())),
            )

        refresh.click(refreshed, None, [listing, dance_data, sample_data, style_run, colour_run, report_pick])
    return page


def _listing(studio: Studio) -> str:
    entries = list(studio.catalogue.entries.values())
    if not entries:
        return f"No finished run under `{studio.catalogue.runs_dir}` yet: `python train.py model=vae data=quickdraw`."
    by_data: dict[str, list[str]] = {}
    for entry in entries:
        by_data.setdefault(entry.data, []).append(entry.model)
    return "Runs: " + "; ".join(f"**{data}**: {', '.join(sorted(models))}" for data, models in sorted(by_data.items()))
