"""What the studio's buttons do, as plain functions of pictures and options (no Gradio here), so
that tests call them directly and the page (``zoo/studio/page.py``) only lays them out.

Every action returns its pictures and one message in Markdown: per model what it measured (the
milliseconds it took) or why that model has no answer. Nothing here raises at the page: ``answer``
wraps each action, and ``explain`` turns a failure into its line, a ``ZooError`` (bad input, a run
that cannot be loaded) as it is, anything else (a bug) as "internal error, see the server log"
with the traceback logged on the server.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from zoo.errors import ZooError
from zoo.images import to_image
from zoo.models.base import GenerativeModel
from zoo.morph import morph_frames, write_gif
from zoo.nn.colour import grey_rgb, lightness
from zoo.studio.catalogue import Catalogue, Entry
from zoo.studio.pictures import canvas_picture, drawn_anything, on_test_image, read_upload, to_canvas
from zoo.trained import TrainedRun

CANVAS = 280  # the sketchpad's side in pixels: 10 canvas pixels per bitmap pixel at 28
Gallery = list[tuple[Any, str]]  # (picture or file path, caption)


log = logging.getLogger("zoo.studio")
WHAT = {
    "encode": "encode (reconstruct and morph)",
    "sample": "draw samples",
    "style_mix": "mix styles",
    "colourise": "colourise",
}
FIRST_RUN = {  # what to train for a tab that has nothing yet: the command, and what else would do
    "encode": ("python train.py model=vae", "or any model with an encoder: glow, alpha_gan, alae, ddpm, flow_matching"),
    "sample": ("python train.py", "DCGAN on the Quick, Draw! doodles inside genzoo, or any other model="),
    "style_mix": ("python train.py model=alae", "a style-based model"),
    "colourise": ("python train.py model=cinn data=flowers64", "or model=colour_regression"),
}


def needs(need: str, data: str | None = None) -> str:
    """What to train so that a tab can answer (on ``data`` when given)."""
    command, note = FIRST_RUN[need]
    if data and need in ("encode", "sample"):
        command += f" data={data}"
    return f"train one first: `{command}` ({note}), then reload the page"


INTERNAL = "internal error, see the server log"


def explain(error: Exception) -> str:
    """One line for the page: a ``ZooError`` (the user's to fix) as it is; anything else is a bug
    in genzoo, whose traceback goes to the server's log while the page says only that."""
    if isinstance(error, ZooError):
        return str(error)
    log.error("studio: %s", INTERNAL, exc_info=error)
    return f"{INTERNAL} ({type(error).__name__})"


def answer(*empty: Any) -> Callable:
    """An action of ``Studio`` that returns its pictures and its message's lines: the message gets
    the server's time for the whole answer; a failure gives the ``empty`` pictures and its one line
    from ``explain``."""

    def wrap(method: Callable) -> Callable:
        @functools.wraps(method)
        def run(self: Studio, *args: Any, **kwargs: Any) -> tuple:
            started = time.perf_counter()
            try:
                *pictures, lines = method(self, *args, **kwargs)
            except Exception as e:
                return (*empty, self._done([explain(e)], started))
            return (*pictures, self._done(lines, started))

        return run

    return wrap


SEEDS = 2**63  # torch generators take seeds below this


def whole(value: Any, what: str, low: int, high: int) -> int:
    """A number from the page as an int in [low, high], or one message naming the range."""
    if value is None or value == "":
        raise ZooError(f"{what} is empty: type a whole number from {low:,} to {high:,}")
    try:
        number = value if isinstance(value, int) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise ZooError(f"{what} must be a whole number from {low:,} to {high:,}, not {value!r}") from None
    if isinstance(number, float) and not number.is_integer():
        raise ZooError(f"{what} {number:g} is out of range: use a whole number from {low:,} to {high:,}")
    if not low <= number <= high:
        raise ZooError(f"{what} {int(number):,} is out of range: use a whole number from {low:,} to {high:,}")
    return int(number)


def sample_controls(
    model: GenerativeModel, n: int, temperature: float, truncation: float, label: int
) -> dict[str, float | torch.Tensor]:
    """The sliders' values for the controls the model's ``sample`` declares (``label`` -1: every class in turn)."""
    controls: dict[str, float | torch.Tensor] = {}
    if "temperature" in model.sample_controls:
        controls["temperature"] = float(temperature)
    if "truncation" in model.sample_controls:
        controls["truncation"] = float(truncation)
    if "labels" in model.sample_controls and model.conditional:
        classes = model.info.num_classes
        labels = torch.arange(n) % classes if label < 0 else torch.full((n,), label % classes)
        controls["labels"] = labels.to(model.device)
    return controls


@dataclass
class Dance:
    """Tab 1's answers: the two inputs as the models see them, per model its reconstructions of
    A and B or an animated morph between them, and the message."""

    inputs: Image.Image | None = None
    pictures: Gallery = field(default_factory=list)  # per model: its reconstructions, or its morph's GIF
    frames: dict[str, torch.Tensor] = field(default_factory=dict)  # model -> its images (T, C, H, W)
    message: str = ""


@dataclass
class Studio:
    """The catalogue of runs and a private scratch folder (``workdir``) for the files the page
    offers for download (GIFs, report copies); nothing is ever written anywhere else."""

    catalogue: Catalogue
    workdir: Path
    _counter: itertools.count = field(default_factory=itertools.count)
    _answers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _scratch(self, suffix: str) -> Path:
        path = self.workdir / f"{next(self._counter):06d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _first_loaded(self, entries: list[Entry], with_data: bool = False) -> TrainedRun:
        """The first of ``entries`` that loads (runs before exported models); with ``with_data``,
        the first whose held-out images can be read (an exported model carries none)."""
        if not entries:
            raise ZooError("no finished run here yet: train one (python train.py) and reload the page")
        reasons = []
        for entry in sorted(entries, key=lambda e: e.exported):
            try:
                run = self.catalogue.load(entry.key)
                if with_data:
                    run.data  # noqa: B018 (decoded here, once, or refused with the reason)
                return run
            except ZooError as e:
                reasons.append(str(e))
        raise ZooError("no run could be loaded: " + "; ".join(reasons))

    # -- what each tab says before the first click ----------------------------------------------
    def note(self, need: str, data: str | None = None) -> str:
        """Which runs a tab's button will ask (on ``data`` for the doodle tabs), which runs it leaves
        out and why, or what to train when it has none."""
        cat = self.catalogue
        if need in ("encode", "sample"):
            if not data:
                return f"Nothing to show yet: {needs(need)}."
            can = cat.entries_for(data, need)
            left = [e for e in cat.entries_for(data) if e not in can]
        else:
            can, left = [e for e in cat.entries.values() if cat.can(e, need)], []
        if not can:
            return f"No run here can {WHAT[need]} yet: {needs(need, data)}."
        said = f"Runs that {WHAT[need]}: " + ", ".join(f"**{e.model}** ({e.progress})" for e in can) + "."
        if left:
            why = {True: "a colouriser: see Colourise", False: "no encoder"}
            said += " Not in this tab: " + "; ".join(f"{e.model} ({why[e.family.colourises]})" for e in left) + "."
        return said

    def cold_runs(self, need: str, choice: str | None) -> list[str]:
        """The runs a click's answer will load first (a first answer takes seconds per model): for
        the doodle tabs every run on the data set ``choice`` that can do ``need``, else the run ``choice``."""
        if not choice:
            return []
        keys = [e.key for e in self.catalogue.entries_for(choice, need)] if need in ("encode", "sample") else [choice]
        return [k for k in keys if k in self.catalogue.entries and not self.catalogue.loaded(k)]

    # -- tab 1: draw and dance ------------------------------------------------------------------
    @answer(None)
    def test_doodle(self, data: str, index: int) -> tuple[Any, list[str]]:
        """A held-out image of ``data`` as a sketchpad value (the background), and a message."""
        self._need_data(data, "encode")
        run = self._first_loaded(self.catalogue.entries_for(data, "encode"), with_data=True)
        test = run.data.test
        index = whole(index, "test doodle #", 0, len(test) - 1)
        x, _ = test.batch(torch.tensor([index]))
        value = {"background": to_canvas(x[0], CANVAS), "layers": [], "composite": None}
        return value, [f"test doodle {index} on the canvas"]

    def _input(self, data: str, value: Any, test_index: int | None, name: str) -> torch.Tensor:
        """A canvas as the models of ``data`` see it: what the user sees on it. A test doodle
        alone is the exact test image; strokes drawn over one are painted on it pixel for pixel
        (``on_test_image``); a drawing on the blank canvas is framed like the data set's."""
        if test_index is not None and value is not None:
            run = self._first_loaded(self.catalogue.entries_for(data, "encode"), with_data=True)
            image = run.data.test.batch(torch.tensor([int(test_index)]))[0]
            if not drawn_anything(value):
                return image
            # the strokes over the test doodle the canvas shows (the browser's copy of that
            # background can come back a level off here and there: the data set's is exact)
            layers = value.get("layers") if isinstance(value, dict) else None
            return on_test_image({"background": to_canvas(image[0], CANVAS), "layers": layers}, image[0])
        run = self._first_loaded(self.catalogue.entries_for(data, "encode"))
        return canvas_picture(value, run.model.info, name)

    def _each_encoder(
        self,
        data: str,
        canvases: tuple[Any, Any],
        tests: tuple[int | None, int | None],
        work: Callable[[Entry, GenerativeModel, torch.Tensor, torch.Tensor], tuple[Any, torch.Tensor, str]],
    ) -> Dance:
        """``work(entry, model, a, b)`` for every model on ``data`` that encodes, with canvases A
        and B as that model sees them (on its device): its picture, its images and a line each
        for the answer; a model that fails is its line with the reason."""
        out, started, lines = Dance(), time.perf_counter(), []
        try:
            entries = self._need_data(data, "encode")
            xa, xb = (self._input(data, c, t, n) for c, t, n in zip(canvases, tests, "AB", strict=True))
        except Exception as e:
            out.message = self._done([explain(e)], started)
            return out
        out.inputs = to_image(torch.cat([xa, xb]), scale=4)
        for entry in entries:
            try:
                model = self.catalogue.load(entry.key).model
                picture, images, line = work(entry, model, xa.to(model.device), xb.to(model.device))
            except Exception as e:
                lines.append(f"- **{entry.model}**: {explain(e)}")
                continue
            out.pictures.append(picture)
            out.frames[entry.model] = images.cpu()
            lines.append(line)
        out.message = self._done(lines, started)
        return out

    def reconstruct(
        self, data: str, canvas_a: Any, canvas_b: Any, test_a: int | None = None, test_b: int | None = None
    ) -> Dance:
        """Every model on ``data`` that encodes: its reconstructions of A and B."""

        def work(entry: Entry, model: GenerativeModel, a: torch.Tensor, b: torch.Tensor):
            y = torch.zeros(2, dtype=torch.long, device=model.device) if model.conditional else None
            start = time.perf_counter()
            with torch.no_grad():
                rec = model.reconstruct(torch.cat([a, b]), y)  # (2, C, H, W)
            ms = (time.perf_counter() - start) * 1000
            line = f"- **{entry.model}** ({entry.key}): reconstruction of A and B in {ms:.0f} ms"
            return (to_image(rec, scale=4), f"{entry.model}: A | B"), rec, line

        return self._each_encoder(data, (canvas_a, canvas_b), (test_a, test_b), work)

    def morph(
        self,
        data: str,
        canvas_a: Any,
        canvas_b: Any,
        test_a: int | None = None,
        test_b: int | None = None,
        frames: int = 16,
        mode: str = "slerp",
        pingpong: bool = True,
        fps: int = 12,
    ) -> Dance:
        """Every model on ``data`` that encodes: an animated morph A -> B (``zoo.morph``'s path
        through the latent space; with ``pingpong`` it runs back again, so the doodle dances)."""
        try:
            frames, fps = whole(frames, "frames", 2, 64), whole(fps, "frames per second", 1, 50)
        except ZooError as e:
            return Dance(message=self._done([str(e)], time.perf_counter()))

        def work(entry: Entry, model: GenerativeModel, a: torch.Tensor, b: torch.Tensor):
            y = torch.zeros(1, dtype=torch.long, device=model.device) if model.conditional else None
            start = time.perf_counter()
            path = morph_frames(model, a, b, int(frames), mode, y, y).cpu()  # (frames, C, H, W)
            ms = (time.perf_counter() - start) * 1000
            loop = torch.cat([path, path.flip(0)[1:-1]]) if pingpong and len(path) > 2 else path
            gif = write_gif(loop, self._scratch(f"_{entry.model}.gif"), int(fps), scale=4)
            line = f"- **{entry.model}**: {frames}-frame {mode} morph in {ms:.0f} ms"
            return (str(gif), f"{entry.model}: {mode}, {frames} frames"), path, line

        return self._each_encoder(data, (canvas_a, canvas_b), (test_a, test_b), work)

    def _need_data(self, data: str | None, need: str) -> list[Entry]:
        """The runs on ``data`` that can do ``need``, or one message saying what to train."""
        if not data:
            raise ZooError(f"no data set to choose yet: {needs(need)}")
        entries = self.catalogue.entries_for(data, need)
        if not entries:
            raise ZooError(f"no finished run on {data} can {WHAT[need]}: {needs(need, data)}")
        return entries

    def _run(self, key: str | None, need: str) -> GenerativeModel:
        """The model of the run ``key`` (the page's choice), or one message saying what to train."""
        if not key:
            raise ZooError(f"no run to choose yet: {needs(need)}")
        return self.catalogue.model(key, need)

    def _done(self, lines: list[str], started: float) -> str:
        """The message's last line: the server's time for the whole answer, numbered so that one
        answer is told from the next."""
        return "\n".join(
            [*lines, f"\n_answer {next(self._answers)}: {(time.perf_counter() - started) * 1000:.0f} ms on the server_"]
        )

    # -- tab 2: samples -------------------------------------------------------------------------
    @answer([])
    def samples(
        self, data: str, n: int = 16, seed: int = 0, temperature: float = 0.7, truncation: float = 0.7, label: int = -1
    ) -> tuple[Gallery, list[str]]:
        """Every model's samples on ``data`` from one seed; each control goes to the models whose
        ``sample_controls`` declare it (``label`` -1: every class in turn)."""
        gallery, lines = [], []
        entries = self._need_data(data, "sample")
        n, seed = whole(n, "samples per model", 1, 64), whole(seed, "seed", 0, SEEDS - 1)
        label = whole(label, "class", -1, 2**31 - 1)
        for entry in entries:
            try:
                model = self.catalogue.load(entry.key).model
                controls = sample_controls(model, int(n), temperature, truncation, int(label))
                generator = torch.Generator(device=model.device).manual_seed(int(seed))
                start = time.perf_counter()
                with torch.no_grad():
                    images = model.sample(int(n), generator, **controls)
                ms = (time.perf_counter() - start) * 1000
            except Exception as e:
                lines.append(f"- **{entry.model}**: {explain(e)}")
                continue
            shown = ", ".join(f"{k}={v:g}" for k, v in controls.items() if not torch.is_tensor(v))
            gallery.append((to_image(images, scale=2, nrow=4), f"{entry.model}{f' ({shown})' if shown else ''}"))
            lines.append(f"- **{entry.model}** ({entry.key}): {n} samples in {ms:.0f} ms")
        return gallery, lines

    # -- tab 3: style mixing --------------------------------------------------------------------
    def style_layers(self, key: str) -> tuple[list[tuple[str, int]], dict[str, list[int]], str]:
        """The style layers of the run ``key`` as (label, index) choices, its presets (the model's
        coarse, middle and fine, and none and all), a message."""
        try:
            model = self._run(key, "style_mix")
            choices = [(f"{i}: {4 * 2 ** (i // 2)}px", i) for i in range(model.style_layers)]
            presets = {name: model.style_preset(name) for name in ("coarse", "middle", "fine")}
            presets |= {"none": [], "all": list(range(model.style_layers))}
            reached = 4 * 2 ** (model.style_layers // 2 - 1)
            return (
                choices,
                presets,
                f"{model.style_layers} style layers (two per resolution, up to {reached}px: trained so far)",
            )
        except Exception as e:
            return [], {}, explain(e)

    @answer(None)
    def test_picture(self, key: str, index: int) -> tuple[str | None, list[str]]:
        """A held-out image of the run ``key`` written at the model's size, as an upload would be."""
        if not key:
            raise ZooError("no run to take a test image from yet: train one and reload the page")
        data = self.catalogue.load(key).data
        index = whole(index, "test image #", 0, len(data.test) - 1)
        path = self._scratch(f"_test{index}.png")
        to_image(data.test.batch(torch.tensor([index]))[0], scale=1).save(path)
        return str(path), [f"test image {index}"]

    @answer(None, None, None)
    def style_mix(
        self, key: str, source: str | None, destination: str | None, layers: list[int]
    ) -> tuple[Image.Image | None, Image.Image | None, Image.Image | None, list[str]]:
        """Reconstructions of source and destination, and the destination with the source's style
        at ``layers`` (none: the destination's reconstruction; all: the source's)."""
        model = self._run(key, "style_mix")
        src = read_upload(source, model.info, "source picture").to(model.device)
        dst = read_upload(destination, model.info, "destination picture").to(model.device)
        bad = [i for i in layers if not 0 <= int(i) < model.style_layers]
        if bad:
            raise ZooError(f"layers {bad} do not exist: this model has layers 0..{model.style_layers - 1}")
        start = time.perf_counter()
        with torch.no_grad():
            w_src, w_dst = model.encode(src), model.encode(dst)
            mixed = model.style_mix(w_src, w_dst, sorted(int(i) for i in layers))
            src_rec, dst_rec = model.decode(w_src), model.decode(w_dst)
        ms = (time.perf_counter() - start) * 1000
        taken = ", ".join(str(i) for i in sorted(layers)) or "none (the destination's reconstruction)"
        return (
            to_image(src_rec, 4),
            to_image(dst_rec, 4),
            to_image(mixed, 4),
            [f"source style at layers {taken}; {ms:.0f} ms"],
        )

    # -- tab 4: colourise -----------------------------------------------------------------------
    @answer(None, [], None)
    def colourise(
        self,
        key: str,
        photo: str | None,
        temperature: float = 1.0,
        seed: int = 0,
        reference: str | None = None,
        n: int = 8,
    ) -> tuple[Image.Image | None, Gallery, Image.Image | None, list[str]]:
        """The photo made grey, ``n`` colourings of it, and with a ``reference`` photo and a model
        that can transfer, the reference's colours on the photo's lightness."""
        model = self._run(key, "colourise")
        x = read_upload(photo, model.info, "photo").to(model.device)
        grey = lightness(x)
        seed = whole(seed, "seed", 0, SEEDS - 1)
        generator = torch.Generator(device=model.device).manual_seed(seed)
        t = float(temperature) if model.stochastic else None
        start = time.perf_counter()
        with torch.no_grad():
            colourings = model.colourise(grey, n, t, generator)[0]  # (n, 3, H, W)
        ms = (time.perf_counter() - start) * 1000
        moved, note = None, ""
        if reference is not None:
            if not model.can_transfer:
                note = f"; colour transfer needs a cINN: {type(model).__name__} has one answer per grey image"
            else:
                ref = read_upload(reference, model.info, "reference photo").to(model.device)
                with torch.no_grad():
                    moved = to_image(torch.cat([ref, model.transfer(ref, x)]), 4)
        drawn = (
            f"at temperature {t:g}, seed {seed}" if t is not None else "(one answer: a regression has no temperature)"
        )
        gallery = [(to_image(c[None], 4), f"colouring {i + 1}") for i, c in enumerate(colourings)]
        return to_image(grey_rgb(grey), 4), gallery, moved, [f"{n} colourings {drawn} in {ms:.0f} ms{note}"]

    # -- tab 5: compare -------------------------------------------------------------------------
    def reports(self) -> dict[str, Path]:
        """The newest ``compare.py`` report per data set and task, by a label for the page."""
        found: dict[str, Path] = {}
        compare = self.catalogue.runs_dir / "compare"
        for folder in sorted((p for p in compare.iterdir() if p.is_dir()), reverse=True) if compare.is_dir() else []:
            try:
                meta = json.loads((folder / "metrics.json").read_text())["meta"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            label = f"{meta.get('data')} ({meta.get('task', 'generate')})"
            found.setdefault(label, folder)
        return dict(sorted(found.items()))

    @answer("", [], [])
    def report(self, label: str) -> tuple[str, Gallery, list[str], list[str]]:
        """A report's table (Markdown), its images, copies of its files to download, a message."""
        if not label:
            raise ZooError(
                "no compare.py report yet: train two models on one data set, run python compare.py, reload the page"
            )
        folder = self.reports().get(label)
        if folder is None:
            raise ZooError(f"no compare.py report called '{label}'; run python compare.py and press 'Refresh runs'")
        try:
            text = (folder / "report.md").read_text()
            copy = self._scratch("_report")
            copy.mkdir()
            files = []
            for name in sorted(p.name for p in folder.iterdir() if p.is_file()):
                if name.endswith((".md", ".csv", ".json", ".png")):
                    files.append(str(shutil.copy2(folder / name, copy / name)))
        except OSError as e:
            raise ZooError(f"{folder.name} cannot be read: {e}") from None
        pictures = [(f, Path(f).name) for f in files if f.endswith(".png")]
        return (
            text,
            pictures,
            files,
            [f"report {folder.name} ({label}); its files: {', '.join(Path(f).name for f in files)}"],
        )
