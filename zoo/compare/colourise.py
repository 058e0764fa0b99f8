"""``python compare.py task=colourise data=<rgb data>``: every trained colouriser on the same grey
held-out images, with the cINN paper's measures (Ardizzone et al. 2019, table 2), side by side.

Each model colours the grey version (L) of every test image ``colourings`` times at its sampling
temperature, or at ``colour_temperature`` when that is set (seeded). Per image: best-of-n and best-of-1 RMSE of ab (CIELAB units) and of RGB
(0-255) against the ground truth, the variance of the n colourings, colourfulness; over the test
set: FID and KID of the first colouring of each image against the training images (the same
reference, features and N as the unconditional table), the conditional bits per colour dimension
where the model has a likelihood, and the cost columns. Two reference rows frame every figure:
the ground truth (the floor of the errors; its FID is test vs train) and the grey input itself
(ab = 0: what a colouriser that adds nothing scores). A sampling colouriser gets a second row at
the one of ``tuning_temperatures`` that colours training images best (``tuned_temperature``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from zoo.compare.discovery import Picked
from zoo.compare.na import NA
from zoo.compare.options import CompareOptions
from zoo.compare.reference import Reference, build_reference
from zoo.compare.report import (
    FEATURE_DISTANCES,
    RUN_COST,
    inception_size,
    markdown_table,
    reasons,
    reference_meta,
    write_metrics,
)
from zoo.compare.scoring import feature_distances, score_cost, score_picked
from zoo.data.base import DataBundle, check_has_colour
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig, evaluate
from zoo.files import atomic_write_text
from zoo.images import labelled_columns
from zoo.metrics.colour import best_of_n_rmse, colourfulness, rmse_per_sample, sample_variance
from zoo.nn.colour import AB_SCALE, chroma, grey_rgb, lightness
from zoo.trained import load_trained

log = logging.getLogger("zoo")

TRUTH, GREY = "ground truth", "grey input (ab = 0)"
GRID_IMAGES = 6  # test images (rows) in colourise.png
TUNED = "T tuned on training images"  # the second row of a sampling colouriser (tuned_temperature)

COLUMNS = [  # (column, key, format)
    ("model", "model", "{}"),
    ("best-of-{n} RMSE ab", "best_of_n_rmse_ab", "{:.2f}"),
    ("best-of-1 RMSE ab", "best_of_1_rmse_ab", "{:.2f}"),
    ("best-of-{n} RMSE RGB", "best_of_n_rmse_rgb", "{:.2f}"),
    ("best-of-1 RMSE RGB", "best_of_1_rmse_rgb", "{:.2f}"),
    ("variance ab", "variance_ab", "{:.2f}"),
    ("colourfulness", "colourfulness", "{:.1f}"),
    *FEATURE_DISTANCES,
    ("bits/colour dim", "bits_per_colour_dim", "{:.3f}"),
    ("T", "temperature", "{:g}"),
    *RUN_COST,
    ("images/s", "colourised_images_per_s", "{:.0f}"),
]

REPORT = """\
# genzoo colourisation comparison on {data}

Every colouriser colours the grey version (CIELAB lightness L) of the same {n_test} held-out test \
images {n} times each (seed {seed}, at the temperature in column T: the model's own unless \
`colour_temperature` sets one). RMSE: per image over every \
pixel, then the mean over images; ab in CIELAB units, RGB on the 0-255 scale. Best-of-{n}: the \
closest of the {n} colourings to the ground truth (the cINN paper's measure: a model that proposes \
several plausible colourings is not punished for the ones that differ from this photo's); best-of-1: \
the first colouring. Variance: of the {n} colourings per pixel and ab channel, averaged (0 for a \
deterministic model). Colourfulness: Hasler & Süsstrunk (2003) of the first colouring, averaged \
(0 for grey). FID and KID: the first colouring of each test image against {n_train} training images \
(the unconditional table's reference, so the ground-truth row is test vs train, not 0). \
bits/colour dim: the conditional density of ab given L, a different quantity from any bits/dim of \
whole images.
{tuning}
Data key `{data_key}`.

{table}

Feature spaces:
{spaces}

{reasons}

Images: `colourise.png` (grey input, ground truth, then {shown} colourings per model{tuned_columns}, \
for the same test images).
"""


def check_colour(data: DataBundle) -> None:
    check_has_colour(data, "task=colourise")


def colourise_rows(
    picked: dict[str, Picked], data: DataBundle, key: str, options: CompareOptions, device: torch.device
) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor], Reference]:
    """The reference rows and one row per colouriser, and the images for the grid."""
    ref = build_reference(data, options, key, device)
    truth = ref.test_images
    grey = lightness(truth)
    rows = [
        {"model": TRUTH, "run": ""} | colour_errors(truth[:, None], truth) | feature_scores(truth, ref, options),
        {"model": GREY, "run": ""}
        | colour_errors(grey_rgb(grey)[:, None], truth)
        | feature_scores(grey_rgb(grey), ref, options),
    ]
    for row in rows:
        row |= dict.fromkeys(("bits_per_colour_dim", "temperature"), NA("reference row"))
        row |= dict.fromkeys((*(key for _, key, _ in RUN_COST), "colourised_images_per_s"), "")
    images = {"grey": grey_rgb(grey[:GRID_IMAGES]), "truth": truth[:GRID_IMAGES]}
    for name, choice in picked.items():
        log.info("colourising with %s (%s)", name, choice.run)
        row, scored = score_picked(name, choice, lambda n, run: model_rows(n, run, data, ref, options, device))
        rows.append(row)
        if scored is None:
            continue
        columns, tuned_rows = scored
        images |= columns
        unfinished = {"unfinished": row["unfinished"]} if "unfinished" in row else {}  # the same run
        rows += [tuned | unfinished for tuned in tuned_rows]
    return rows, images, ref


@torch.no_grad()
def model_rows(
    name: str, run_dir: Path, data: DataBundle, ref: Reference, options: CompareOptions, device: torch.device
) -> tuple[dict[str, Any], tuple[dict[str, torch.Tensor], list[dict[str, Any]]]]:
    """A colouriser's row at its own temperature (or ``colour_temperature``), its grid columns, and
    for a sampling colouriser the row at the temperature ``tuned_temperature`` picks on training
    images, with one more column (same run, loaded once: likelihood and cost are shared)."""
    trained = load_trained(run_dir, device=device)
    model = trained.model
    if not model.colourises:  # discovery only picks colourisers; a runs=[...] entry may not be
        raise ZooError(f"{name} is not a colouriser (compare it with task=generate)")
    head = {"run": str(run_dir), "step": trained.step, "ema": int(trained.uses_ema)}
    shared: dict[str, Any] = {}
    if model.has_likelihood:
        config = EvalConfig(n_test=None, batch_size=options.batch_size, seed=options.seed)
        results = evaluate(model, data.test, config, device, bool(options.progress), f"likelihood of {name}")
        shared["bits_per_colour_dim"] = results[f"test/{model.bits_label}"]
    else:
        shared["bits_per_colour_dim"] = NA("no likelihood (a regression)")
    shared |= score_cost(model, run_dir)
    own = model.sample_temperature if options.colour_temperature is None else options.colour_temperature
    row, colourings = colourings_row(model, own, ref, options, device)
    row = {"model": name} | head | row | shared
    columns = {f"{name} {i + 1}": colourings[:GRID_IMAGES, i] for i in range(grid_colourings(options))}
    if not (model.stochastic and options.tuning_temperatures):
        return row, (columns, [])
    tuning = ref.train_images[: options.tuning_images]
    log.info("choosing %s's temperature on %d training images", name, len(tuning))
    temperature, curve = tuned_temperature(model, tuning, options, device)
    tuned_row, colourings = colourings_row(model, temperature, ref, options, device)
    tuned_row = {"model": f"{name}, {TUNED}"} | head | tuned_row | shared
    tuned_row["tuning_curve"] = " ".join(f"{t:g}:{rmse:.2f}" for t, rmse in curve.items())
    columns[f"{name} T={temperature:g}"] = colourings[:GRID_IMAGES, 0]
    return row, (columns, [tuned_row])


def grid_colourings(options: CompareOptions) -> int:
    """How many of each model's colourings ``colourise.png`` shows."""
    return min(3, options.colourings)


def colourings_row(
    model, temperature: float, ref: Reference, options: CompareOptions, device
) -> tuple[dict[str, Any], torch.Tensor]:
    """The colour and feature measures of the model's colourings of the test images at one temperature."""
    truth = ref.test_images
    generator = torch.Generator(device=device).manual_seed(options.seed)
    start = time.perf_counter()
    colourings = colour_all(model, truth, temperature, generator, options, device)
    speed = len(truth) * options.colourings / (time.perf_counter() - start)
    row = colour_errors(colourings, truth) | feature_scores(colourings[:, 0], ref, options)
    row["temperature"] = temperature if model.stochastic else NA("one answer per grey image: no temperature")
    row["colourised_images_per_s"] = speed
    return row, colourings


def colour_all(
    model, images: torch.Tensor, temperature: float, generator: torch.Generator, options: CompareOptions, device
) -> torch.Tensor:
    """``options.colourings`` colourings (N, n, 3, H, W) of the grey versions of images (N, 3, H, W)."""
    chunks = []
    for i in range(0, len(images), options.batch_size):
        grey = lightness(images[i : i + options.batch_size]).to(device)
        chunks.append(model.colourise(grey, options.colourings, temperature, generator).float().cpu())
    return torch.cat(chunks)


def tuned_temperature(model, images: torch.Tensor, options: CompareOptions, device) -> tuple[float, dict[float, float]]:
    """The temperature of ``options.tuning_temperatures`` whose colourings of ``images`` have the
    lowest best-of-n ab RMSE (a tie: the higher, more varied one), and that RMSE at each.

    A sampling colouriser's one free choice at test time, like Glow's sampling temperature; it is made
    on training images so that the test figures stay held out. The regression baseline has no such
    choice: its L2 training already aims at the lowest RMSE."""
    curve = {}
    for t in sorted(set(options.tuning_temperatures)):
        generator = torch.Generator(device=device).manual_seed(options.seed)
        colourings = colour_all(model, images, t, generator, options, device)
        curve[t] = colour_errors(colourings, images)["best_of_n_rmse_ab"]
        log.info("  T=%g: best-of-%d ab RMSE %.2f on the training images", t, options.colourings, curve[t])
    best = min(curve, key=lambda t: (curve[t], -t))
    log.info("  chose T=%g", best)
    return best, curve


def colour_errors(colourings: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """The per-image measures of n colourings (N, n, 3, H, W) of the truth (N, 3, H, W), averaged."""
    n = colourings.shape[1]
    ab = chroma(colourings.flatten(0, 1)).view(len(truth), n, 2, *truth.shape[2:]) * AB_SCALE
    ab_truth = chroma(truth) * AB_SCALE
    rgb, rgb_truth = colourings * 255, truth * 255
    return {
        "best_of_n_rmse_ab": best_of_n_rmse(ab, ab_truth).mean().item(),
        "best_of_1_rmse_ab": rmse_per_sample(ab[:, :1], ab_truth).mean().item(),
        "best_of_n_rmse_rgb": best_of_n_rmse(rgb, rgb_truth).mean().item(),
        "best_of_1_rmse_rgb": rmse_per_sample(rgb[:, :1], rgb_truth).mean().item(),
        "variance_ab": sample_variance(ab).mean().item(),
        "colourfulness": colourfulness(colourings[:, 0]).mean().item(),
    }


def feature_scores(images: torch.Tensor, ref: Reference, options: CompareOptions) -> dict[str, Any]:
    """FID and KID of colourings (N, 3, H, W) against the training reference, in every feature space."""
    return feature_distances(images, ref, options.metrics, options.seed, bool(options.progress))[0]


def tuning_text(rows: list[dict[str, Any]], options: CompareOptions, n_train: int) -> str:
    """The paragraph on the tuned rows: how each temperature was chosen, and the curve it was read off."""
    curves = [f"- {r['model']}: {r['tuning_curve']}" for r in rows if "tuning_curve" in r]
    if not curves:
        return ""
    grid = ", ".join(f"{t:g}" for t in sorted(set(options.tuning_temperatures)))
    return (
        f"\nRows `<model>, {TUNED}`: the same run at the temperature of {grid} whose best-of-{options.colourings} "
        f"ab RMSE is lowest on {min(options.tuning_images, n_train)} training images (never the test images); "
        "each temperature's RMSE on those training images:\n" + "\n".join(curves) + "\n"
    )


def write_colourise_report(
    out: Path, rows: list[dict[str, Any]], images: dict[str, torch.Tensor], ref: Reference, options, data
) -> tuple[Path, str]:
    """``colourise.png``, ``metrics.csv``/``.json`` and ``report.md`` (last: a report on disk is complete)."""
    grid = labelled_columns(images, out / "colourise.png")
    columns = [(c.replace("{n}", str(options.colourings)), k, f) for c, k, f in COLUMNS]
    table = markdown_table(rows, inception_size(ref), columns)
    meta = {"task": "colourise", "data": data.info.name, "colourings_per_image": options.colourings}
    meta |= reference_meta(ref, options, data)
    write_metrics(out, rows, meta)
    text = REPORT.format(
        data=data.info.name,
        n_test=len(ref.test_images),
        n=options.colourings,
        seed=options.seed,
        n_train=len(ref.train_images),
        data_key=ref.data_key,
        table=table,
        spaces="\n".join(f"- `{name}`: {label}" for name, label in meta["feature_spaces"].items()),
        reasons="\n".join(reasons(rows)),
        shown=grid_colourings(options),
        tuned_columns="".join(f", `{c}` (its first colouring at the tuned T)" for c in images if " T=" in c),
        tuning=tuning_text(rows, options, len(ref.train_images)),
    )
    atomic_write_text(out / "report.md", text, "comparison report")
    return grid, table
