"""The comparison written down: the table, the reasons for every n/a, the report and its grids."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import torch

from zoo.compare.na import NA
from zoo.compare.options import CompareOptions
from zoo.compare.reference import Reference
from zoo.data.base import DataBundle
from zoo.files import atomic_write_text
from zoo.images import labelled_columns, save_grid

# the columns of every comparison: the feature-space distances and the cost of the run
FEATURE_DISTANCES = [
    ("FID zoo", "fid_zoo", "{:.2f}"),
    ("KID zoo x1e3", "kid_zoo_x1e3", "{:.2f}"),
    ("FID Inception N={n_inception}", "fid_inception", "{:.2f}"),
    ("KID Inception x1e3", "kid_inception_x1e3", "{:.2f}"),
]
RUN_COST = [
    ("params", "parameters", "{:,}"),
    ("train min", "train_minutes", "{:.1f}"),
    ("images seen", "images_seen", "{:,.0f}"),
    ("train img/s", "train_images_per_s", "{:.0f}"),  # images seen / train min: the run's whole wall time
]

TABLE = [  # (column, key, format)
    ("model", "model", "{}"),
    ("recon MSE", "recon_mse", "{:.4f}"),
    ("PSNR dB", "recon_psnr", "{:.1f}"),
    ("SSIM", "recon_ssim", "{:.3f}"),
    *FEATURE_DISTANCES,
    ("SWD x1e3", "swd_x1e3", "{:.1f}"),
    ("-W critic", "neg_wasserstein", "{:.3f}"),
    ("bits/dim", "bits_per_dim", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("precision Inception", "precision_inception", "{:.3f}"),
    ("recall Inception", "recall_inception", "{:.3f}"),
    ("classes", "classes_covered", "{:.2f}"),
    ("class KL", "class_kl", "{:.3f}"),
    *RUN_COST,
    ("samples/s", "sample_images_per_s", "{:.0f}"),
    ("NFE", "sample_evaluations", "{:d}"),  # network evaluations per sample
    ("non-finite", "nonfinite_samples", "{:d}"),
    ("peak MB", "peak_memory_mb", "{:.0f}"),
]


# report.md; the numbers come from the rows, the words stay the same for every comparison
REPORT = """\
# genzoo comparison on {data}

{n_samples} samples per model (seed {seed}); FID, KID, SWD and precision/recall against {n_train} \
training images; reconstructions, likelihoods and the critic on {n_test} held-out test images. The first \
row scores held-out real images the same way: the floor to read every other row against.{small_test} \
Data key `{data_key}` (a hash of every image and label of both splits and the data options; the cached \
feature network and reference features belong to it).

{unfinished}{table}
{sampled_with}{seeds}
Feature spaces:
{spaces}
{inception}
Not applicable:
{reasons}

Reconstructions by inversion (`invert_gan=true`, see `recon_method`) search the latent space per image \
and are not comparable with an encoder's single pass.

Columns: SWD is the sliced Wasserstein distance of Karras et al. (2018) averaged over pyramid levels \
(per level in metrics.csv); -W critic is the alpha-GAN paper's negative Wasserstein distance from a fresh \
WGAN-GP critic (closer to 0 is better); classes: share of classes the zoo classifier finds among the \
samples; class KL: KL(generated || data) of the class histograms, in nats; non-finite: samples with a NaN or \
infinite pixel, scored with those pixels set to 0 (NaN, -inf) or 1 (+inf). bits/dim compare only between \
rows whose likelihood is of the same data (the `likelihood` field in metrics.csv: a VAE on doodles models \
binarised pixels, Glow the dequantised 8-bit values).

Images: `samples.png` (one column per model, first column real test images), `recons.png` (the same test \
images, first column the originals), `morphs.png` (one row per model that encodes).
"""
INCEPTION = """
The Inception columns score {n_inception} images per row (`metrics.inception_samples`): the first \
{n_inception} of each model's samples, of the held-out test images in the real row, and of the training \
reference, the same N everywhere. FID's estimate is biased upwards at small N and falls as N grows, so read \
it only against rows of the same N (published FIDs use 50,000); KID is unbiased at any N. Precision and \
recall Inception are the k-NN manifold metrics on those same features; the unlabelled columns use the zoo \
features.
"""
SEEDS = """
A row of several seeds (`<model> (n seeds)`: the newest finished run of each seed, trained with the \
same configuration otherwise) shows each figure's mean ± its spread, the sample standard deviation over \
the seeds; its samples in the images are the newest run's. Read a difference between two rows against \
their spreads.
"""
SMALL_TEST_SPLIT = (
    " The test split holds only {n_test} images, so the real row is scored with that many where models use"
    " all their samples; FID reads slightly high on fewer images (KID is unbiased), so the floor is a little"
    " pessimistic."
)


def cell(value: Any, fmt: str) -> str:
    if isinstance(value, NA):
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isinf(value):
        return "inf (exact)"
    if isinstance(value, float) and fmt.endswith(":d}"):  # a count's mean over seeds
        return f"{value:.1f}"
    return fmt.format(value)


def markdown_table(
    rows: list[dict[str, Any]], n_inception: int | str = "n/a", columns: list[tuple[str, str, str]] = TABLE
) -> str:
    """The table; ``n_inception`` (images per row in the Inception columns) goes in their header."""
    header = [c.format(n_inception=n_inception) for c, _, _ in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r, k, f) for _, k, f in columns) + " |" for r in rows]
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str, fmt: str) -> str:
    """A row's cell; over several seeds, ``mean ± spread``."""
    if key == "model":
        return _model_cell(row)
    shown = cell(row.get(key, ""), fmt)
    return f"{shown} ± {cell(row[key + '_spread'], fmt)}" if f"{key}_spread" in row else shown


def _model_cell(row: dict[str, Any]) -> str:
    said = [f"{row['seeds']} seeds"] if row.get("seeds", 1) > 1 else []
    said += [f"unfinished: {row['unfinished']}"] if row.get("unfinished") else []
    return f"{row['model']} ({'; '.join(said)})" if said else str(row["model"])


def inception_size(ref: Reference) -> int | str:
    return ref.sizes.get("inception", "n/a")


def reasons(rows: list[dict[str, Any]]) -> list[str]:
    """Every distinct "n/a" with its reason: once for a reason every row shares, else per model."""
    per_row = [
        (
            r["model"],
            sorted({v.reason for v in r.values() if isinstance(v, NA)}),
        )
        for r in rows
    ]
    shared = set.intersection(*(set(found) for _, found in per_row)) if per_row else set()
    notes = [f"- every row: n/a because {reason}" for reason in sorted(shared)]
    notes += [
        f"- {model}: n/a because {reason}" for model, found in per_row for reason in found if reason not in shared
    ]
    return notes


def jsonable(value: Any) -> Any:
    """A cell as the CSV and JSON files write it: ``"n/a: <reason>"``, ``"inf"``, or the value."""
    if isinstance(value, NA):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def write_metrics(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """``metrics.csv`` (one line per row, every key any row has) and ``metrics.json`` (meta and rows)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=keys)
    writer.writeheader()
    writer.writerows([{k: jsonable(r.get(k, "")) for k in keys} for r in rows])
    atomic_write_text(out / "metrics.csv", table.getvalue(), "comparison table")
    atomic_write_text(
        out / "metrics.json",
        json.dumps({"meta": meta, "rows": [{k: jsonable(v) for k, v in r.items()} for r in rows]}, indent=2) + "\n",
        "comparison metrics",
    )


def reference_meta(ref: Reference, options: CompareOptions, data: DataBundle) -> dict[str, Any]:
    """What ``metrics.json`` says of the held-out data and the reference, for either task."""
    return {
        "data": data.info.name,
        "n_reference_train_images": len(ref.train_images),
        "n_test_images": len(ref.test_images),
        "seed": options.seed,
        "data_key": ref.data_key,
        "images_per_feature_space": ref.sizes,
        "feature_spaces": {s.name: s.label for s in ref.spaces} | {k: str(NA(v)) for k, v in ref.unavailable.items()},
    }


def write_report(
    out: Path, rows: list[dict[str, Any]], ref: Reference, options: CompareOptions, data: DataBundle
) -> None:
    meta = {"data": data.info.name, "n_samples": options.n_samples} | reference_meta(ref, options, data)
    write_metrics(out, rows, meta)
    unfinished = [
        f"- {r['model']}: {r['run']} has not finished ({r['unfinished']})" for r in rows if r.get("unfinished")
    ]
    spaces = "\n".join(f"- `{name}`: {label}" for name, label in meta["feature_spaces"].items())
    small_test = (
        SMALL_TEST_SPLIT.format(n_test=len(ref.test_images)) if len(ref.test_images) < options.n_samples else ""
    )
    text = REPORT.format(
        data=data.info.name,
        n_samples=options.n_samples,
        seed=options.seed,
        n_train=len(ref.train_images),
        n_test=len(ref.test_images),
        small_test=small_test,
        data_key=ref.data_key,
        unfinished="Unfinished runs (scored as they are now):\n" + "\n".join(unfinished) + "\n\n" if unfinished else "",
        table=markdown_table(rows, inception_size(ref)),
        sampled_with="".join(
            f"\n{r['model']} drew its samples in {r['sampled_with']} (FID rises with fewer steps).\n"
            for r in rows
            if r.get("sampled_with")
        ),
        seeds=SEEDS if any(r.get("seeds", 1) > 1 for r in rows) else "",
        spaces=spaces,
        inception=INCEPTION.format(n_inception=ref.sizes["inception"]) if "inception" in ref.sizes else "",
        reasons="\n".join(reasons(rows)),
    )
    atomic_write_text(out / "report.md", text, "comparison report")


def write_grids(out: Path, images: dict[str, dict[str, torch.Tensor]], data: DataBundle) -> dict[str, Path]:
    written = {}
    real, _ = data.test.spread(8)
    samples = {"real": real} | {name: imgs["samples"] for name, imgs in images.items()}
    written["samples"] = labelled_columns(samples, out / "samples.png")
    recons = {name: imgs["recons"] for name, imgs in images.items() if "recons" in imgs}
    if recons:
        written["recons"] = labelled_columns({"original": real} | recons, out / "recons.png")
    morphs = [imgs["morph"] for imgs in images.values() if "morph" in imgs]
    if morphs:
        written["morphs"] = save_grid(torch.cat(morphs), out / "morphs.png", nrow=len(morphs[0]))
    return written
