"""``python compare.py data=<name>``: every trained model on the same held-out data, side by side.

For each registered model, the newest finished run on that data under ``runs/`` (or the folders in
``runs=[...]``) is loaded with its EMA weights; each draws ``n_samples`` images with a fixed seed
and is scored with the same metrics against the same real images:

- sample quality and coverage: FID and KID in every available feature space, sliced Wasserstein
  distance, the critic's negative Wasserstein distance, precision/recall, class coverage;
- models that encode: reconstruction MSE, PSNR, SSIM of the test images;
- models with a likelihood: test bits/dim (a bound where the model says so);
- cost: parameters, training time and images seen, sampling speed, peak memory (CUDA).

The first row is the real-data reference: the held-out test images scored against the training
images, the floor every other row should be read against. Capabilities are asked of the model
(``can_encode``, ``has_likelihood``); a missing one is "n/a" with the reason, never a number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from omegaconf import OmegaConf
from pydantic import Field, field_validator

from zoo.build import LoggerConfig, split_group
from zoo.checkpoint import save_checkpoint
from zoo.data import build_data, check_data_options
from zoo.data.base import DataBundle
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig, evaluate
from zoo.files import atomic_write_text, exclusive_dir
from zoo.images import labelled_columns, save_grid
from zoo.metrics.coverage import class_coverage, precision_recall
from zoo.metrics.critic import image_critic, negative_wasserstein
from zoo.metrics.features import FeatureSpace, embed, inception_space, zoo_space
from zoo.metrics.frechet import frechet_distance, kernel_distance
from zoo.metrics.inversion import invert
from zoo.metrics.reconstruction import ReconstructionScores
from zoo.metrics.sliced_wasserstein import swd
from zoo.models.base import GenerativeModel
from zoo.morph import morph_frames
from zoo.options import Options, Seed, check
from zoo.registry import MODELS
from zoo.runs import data_diff, finished_runs, read_config, read_status
from zoo.trained import load_trained
from zoo.trainer import pick_device

log = logging.getLogger("zoo")

REAL = "real data (test vs train)"


class MetricOptions(Options):
    """``metrics.*`` of ``conf/compare.yaml``."""

    feature_spaces: list[Literal["zoo", "inception"]] = Field(
        default_factory=lambda: ["zoo", "inception"], min_length=1
    )
    inception_weights: str | None = None
    cache_dir: str = "runs/compare/cache"
    feature_net_steps: Annotated[int, Field(ge=1, le=1_000_000)] = 800
    kid_subsets: Annotated[int, Field(ge=1, le=10_000)] = 100
    kid_subset_size: Annotated[int, Field(ge=2, le=100_000)] = 1000
    swd_patches_per_image: Annotated[int, Field(ge=1, le=1024)] = 16
    critic_steps: Annotated[int, Field(ge=1, le=1_000_000)] = 300
    critic_batch_size: Annotated[int, Field(ge=2, le=65536)] = 64
    pr_k: Annotated[int, Field(ge=1, le=100)] = 3
    morph_frames: Annotated[int, Field(ge=2, le=1000)] = 8


class CompareOptions(Options):
    """The top level of ``conf/compare.yaml`` (``data`` and ``logger`` are checked by their own schemas)."""

    runs_dir: str = "runs"
    runs: list[str] | None = None
    n_samples: Annotated[int, Field(ge=2, le=1_000_000)] = 10000
    seed: Seed = 0
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 500
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")] = "auto"
    out: str | None = None
    progress: bool | None = None
    invert_gan: bool = False  # reconstructions for decoders without an encoder, by optimising z
    invert_images: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    invert_steps: Annotated[int, Field(ge=1, le=100_000)] = 200
    metrics: MetricOptions = Field(default_factory=MetricOptions)
    data: dict[str, Any] = Field(default_factory=dict)
    logger: dict[str, Any] = Field(default_factory=dict)

    @field_validator("runs", mode="before")
    @classmethod
    def _one_run_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def na(reason: str) -> str:
    return f"n/a: {reason}"


# -- finding the runs ------------------------------------------------------------------------------
@dataclass
class Picked:
    """A model's run for this comparison, or why there is none (``run`` None, ``reason`` set)."""

    run: Path | None = None
    reason: str = ""
    unfinished: str = ""  # "status running at step 40" for a run given in runs= that has not finished


def pick_runs(options: CompareOptions, data_options: dict[str, Any]) -> dict[str, Picked]:
    """Model name -> its run on this data: the ones in ``runs=[...]``, else for each registered
    model the newest finished run whose data options match (an older matching run beats a newer
    one on other data)."""
    data_name = data_options["name"]
    if options.runs:
        picked: dict[str, Picked] = {}
        for entry in options.runs:
            run_dir = Path(entry)
            config = read_config(run_dir)
            name = config["model"].get("name")
            if name in picked:
                raise ZooError(
                    f"runs=[...] names two {name} runs ({picked[name].run} and {run_dir}); pass one per model"
                )
            diff = data_diff(config, data_options)
            if diff:
                picked[name] = Picked(reason=f"{run_dir} was trained on other data: {'; '.join(diff)}")
                continue
            status = read_status(run_dir) or {}
            unfinished = ""
            if status.get("status") != "finished":
                unfinished = f"status {status.get('status', 'unknown')} at step {status.get('step', '?')}"
            picked[name] = Picked(run_dir, unfinished=unfinished)
        return picked
    runs_dir = Path(options.runs_dir)
    found: dict[str, Picked] = {}
    for name in MODELS.names():
        candidates = finished_runs(runs_dir, name, data_name)
        skipped: list[str] = []
        for run_dir in candidates:
            try:
                diff = data_diff(read_config(run_dir), data_options)
            except ZooError as e:
                log.warning("leaving out %s: %s", run_dir, e)
                skipped.append(f"{run_dir}: unreadable config.yaml")
                continue
            if not diff:
                found[name] = Picked(run_dir)
                break
            skipped.append(f"{run_dir} was trained on other data: {'; '.join(diff)}")
        else:
            if skipped:
                more = f" (and {len(skipped) - 1} older)" if len(skipped) > 1 else ""
                found[name] = Picked(reason=f"no finished run on this data; the newest, {skipped[0]}{more}")
            else:
                found[name] = Picked(
                    reason=f"no finished run under {runs_dir}/{name}-{data_name}/ (python train.py model={name} data={data_name})"
                )
    return found


def data_key(data: DataBundle, data_options: dict[str, Any]) -> str:
    """A hash of exactly which images the comparison uses: every pixel and label of both splits,
    their shapes, and the data options that select and transform them. Every cached feature
    network and reference feature file is keyed by it, so two comparisons share a cache only
    when their images are the same."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {k: v for k, v in data_options.items() if k not in ("progress", "download")}, sort_keys=True, default=str
        ).encode()
    )
    for split in (data.train, data.test):
        digest.update(str(tuple(split.images.shape)).encode())
        digest.update(split.images.contiguous().numpy().tobytes())
        digest.update(split.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# -- scoring one set of images -----------------------------------------------------------------------
@dataclass
class Reference:
    """Everything about the real images that every row is scored against, computed once."""

    train_images: torch.Tensor  # (n, C, H, W) in [0, 1]: the reference for FID/KID/SWD/PR
    test_images: torch.Tensor  # held-out images: reconstructions, the critic, the real row
    test_labels: torch.Tensor
    spaces: list[FeatureSpace]
    train_features: dict[str, torch.Tensor]
    unavailable: dict[str, str]  # feature space -> reason
    data_key: str  # which images these are (``data_key``): the cache key of every cached file


def sample_quality(
    images: torch.Tensor, ref: Reference, opts: MetricOptions, seed: int, num_classes: int
) -> dict[str, float | str]:
    row: dict[str, float | str] = {}
    for space in ref.spaces:
        features = embed(space.extract, images)
        reference = ref.train_features[space.name]
        row[f"fid_{space.name}"] = frechet_distance(reference, features)
        kid_mean, _ = kernel_distance(reference, features, opts.kid_subsets, opts.kid_subset_size, seed)
        row[f"kid_{space.name}_x1e3"] = 1e3 * kid_mean
        if space.name == "zoo":
            row |= precision_recall(reference[: len(features)], features, opts.pr_k)
            if space.classify is not None:
                predicted = embed(space.classify, images).argmax(1)
                row |= class_coverage(predicted, ref.test_labels, num_classes)
            else:
                row["classes_covered"] = row["class_kl"] = na("the data has no labels")
    for name, reason in ref.unavailable.items():
        row[f"fid_{name}"] = row[f"kid_{name}_x1e3"] = na(reason)
    sliced = swd(ref.train_images[: len(images)], images, opts.swd_patches_per_image, seed=seed)
    row["swd_x1e3"] = sliced.pop("swd")
    row |= {f"{k}_x1e3": v for k, v in sliced.items()}
    half = len(ref.test_images) // 2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = image_critic(images.shape[1], images.shape[-1])
    fake_half = len(images) // 2
    row["neg_wasserstein"] = negative_wasserstein(
        critic,
        ref.test_images[:half],
        images[:fake_half],
        ref.test_images[half:],
        images[fake_half:],
        steps=opts.critic_steps,
        batch_size=opts.critic_batch_size,
        seed=seed,
    )
    return row


@torch.no_grad()
def draw_samples(
    model: GenerativeModel, n: int, batch_size: int, seed: int, device: torch.device
) -> tuple[torch.Tensor, float]:
    """``n`` samples (on the CPU) with a fixed seed, and the images per second it took."""
    generator = torch.Generator(device=device).manual_seed(seed)
    start = time.perf_counter()
    chunks = [model.sample(min(batch_size, n - i), generator=generator).float().cpu() for i in range(0, n, batch_size)]
    return torch.cat(chunks), n / (time.perf_counter() - start)


def model_row(
    name: str, run_dir: Path, data: DataBundle, ref: Reference, options: CompareOptions, device: torch.device
) -> tuple[dict[str, float | str], dict[str, torch.Tensor]]:
    """One model's metrics, and the images for the side-by-side grids."""
    trained = load_trained(run_dir, device=device)
    model, opts = trained.model, options.metrics
    row: dict[str, float | str] = {
        "model": name,
        "run": str(run_dir),
        "step": trained.step,
        "ema": int(trained.uses_ema),
        # sample() as the model draws it by default; a flow's temperature changes every sample metric
        "sample_temperature": model.sample_temperature,
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    samples, speed = draw_samples(model, options.n_samples, options.batch_size, options.seed, device)
    row["sample_images_per_s"] = speed
    row["peak_memory_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else na("measured on CUDA only")
    )
    row |= sample_quality(samples, ref, opts, options.seed, data.info.num_classes)

    images = {"samples": samples[:8]}
    if model.can_encode:
        scores = ReconstructionScores()
        for i in range(0, len(ref.test_images), options.batch_size):
            x = ref.test_images[i : i + options.batch_size].to(device)
            y = ref.test_labels[i : i + options.batch_size].to(device)
            scores.update(x, model.reconstruct(x, y))
        row |= {f"recon_{k}": v for k, v in scores.result().items()}
        row["recon_method"] = "encode/decode"
        x, y = data.test.spread(8)
        images["recons"] = model.reconstruct(x.to(device), y.to(device)).cpu()
        a, b = _morph_ends(data)
        xa, ya = (t.to(device) for t in data.test.batch(torch.tensor([a])))
        xb, yb = (t.to(device) for t in data.test.batch(torch.tensor([b])))
        conditional = model.conditional
        images["morph"] = morph_frames(
            model, xa, xb, opts.morph_frames, "slerp", ya if conditional else None, yb if conditional else None
        ).cpu()
    elif options.invert_gan and model.can_decode:
        n = min(options.invert_images, len(ref.test_images))
        scores = ReconstructionScores()
        for i in range(0, n, options.batch_size):
            x = ref.test_images[i : min(i + options.batch_size, n)].to(device)
            scores.update(x, invert(model, x, options.invert_steps, seed=options.seed + i))
        row |= {f"recon_{k}": v for k, v in scores.result().items()}
        row["recon_method"] = f"inversion (z optimised per image, {options.invert_steps} Adam steps, {n} test images)"
        x, _ = data.test.spread(8)
        images["recons"] = invert(model, x.to(device), options.invert_steps, seed=options.seed).cpu()
    else:
        reason = "no encoder" + (" (invert_gan=true searches its latent space)" if model.can_decode else "")
        row["recon_mse"] = row["recon_psnr"] = row["recon_ssim"] = row["recon_method"] = na(reason)
    if model.has_likelihood:
        cfg = EvalConfig(n_test=None, batch_size=options.batch_size, seed=options.seed)
        results = evaluate(model, data.test, cfg, device)
        row["bits_per_dim"] = results["test/bits_per_dim"]
        row["likelihood"] = f"{model.likelihood_kind} on {model.likelihood_data}"
    else:
        row["bits_per_dim"] = row["likelihood"] = na("no likelihood")
    row["parameters"] = sum(p.numel() for p in model.parameters())
    record = _read_json(run_dir / "eval.json")
    row["train_minutes"] = record.get("train/minutes", na("no eval.json in the run"))
    row["images_seen"] = record.get("train/images_seen", na("no eval.json in the run"))
    return row, images


def _morph_ends(data: DataBundle) -> tuple[int, int]:
    """Two test images of different classes where there are labels (the first and the last class)."""
    labels = data.test.labels
    if data.info.num_classes > 1 and len(labels.unique()) > 1:
        return int((labels == labels.min()).nonzero()[0]), int((labels == labels.max()).nonzero()[0])
    return 0, len(labels) // 2


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# -- the real images -------------------------------------------------------------------------------
def build_reference(data: DataBundle, options: CompareOptions, key: str) -> Reference:
    opts, progress = options.metrics, bool(options.progress)
    generator = torch.Generator().manual_seed(options.seed)
    n_train = min(options.n_samples, len(data.train))
    train_images, _ = data.train.batch(torch.randperm(len(data.train), generator=generator)[:n_train])
    n_test = min(options.n_samples, len(data.test))
    test_images, test_labels = data.test.batch(torch.randperm(len(data.test), generator=generator)[:n_test])

    spaces, unavailable = [], {}
    for name in opts.feature_spaces:
        if name == "zoo":
            spaces.append(
                zoo_space(
                    data.train,
                    data.test,
                    data.info,
                    Path(opts.cache_dir),
                    opts.feature_net_steps,
                    seed=options.seed,
                    progress=progress,
                    data_key=key,
                )
            )
        else:  # "inception" (the schema allows no other)
            space = inception_space(opts.inception_weights)
            if isinstance(space, str):
                unavailable["inception"] = space.removeprefix("n/a: ")
            else:
                spaces.append(space)
    features = {}
    for space in spaces:  # the reference features, computed once per data set, sample and network
        path = Path(opts.cache_dir) / f"reference-{space.name}-{space.key}-data{key}-n{n_train}-seed{options.seed}.pt"
        if path.is_file():
            features[space.name] = torch.load(path, map_location="cpu", weights_only=True)["features"]
        else:
            features[space.name] = embed(space.extract, train_images)
            save_checkpoint({"features": features[space.name]}, path)
    return Reference(train_images, test_images, test_labels, spaces, features, unavailable, key)


def real_row(ref: Reference, options: CompareOptions, num_classes: int) -> dict[str, float | str]:
    row: dict[str, float | str] = {"model": REAL, "run": "", "step": "", "ema": ""}
    row |= sample_quality(ref.test_images, ref, options.metrics, options.seed, num_classes)
    for key in ("recon_mse", "recon_psnr", "recon_ssim", "bits_per_dim", "likelihood"):
        row[key] = na("reference row")
    for key in ("sample_images_per_s", "peak_memory_mb", "parameters", "train_minutes", "images_seen"):
        row[key] = ""
    return row


# -- the report --------------------------------------------------------------------------------------
TABLE = [  # (column, key, format)
    ("model", "model", "{}"),
    ("recon MSE", "recon_mse", "{:.4f}"),
    ("PSNR dB", "recon_psnr", "{:.1f}"),
    ("SSIM", "recon_ssim", "{:.3f}"),
    ("FID zoo", "fid_zoo", "{:.2f}"),
    ("KID zoo x1e3", "kid_zoo_x1e3", "{:.2f}"),
    ("FID Inception", "fid_inception", "{:.2f}"),
    ("SWD x1e3", "swd_x1e3", "{:.1f}"),
    ("-W critic", "neg_wasserstein", "{:.3f}"),
    ("bits/dim", "bits_per_dim", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("classes", "classes_covered", "{:.2f}"),
    ("class KL", "class_kl", "{:.3f}"),
    ("params", "parameters", "{:,}"),
    ("train min", "train_minutes", "{:.1f}"),
    ("images seen", "images_seen", "{:,.0f}"),
    ("samples/s", "sample_images_per_s", "{:.0f}"),
    ("peak MB", "peak_memory_mb", "{:.0f}"),
]


def cell(value: Any, fmt: str) -> str:
    if isinstance(value, str):
        return "n/a" if value.startswith("n/a") else value
    if isinstance(value, float) and math.isinf(value):
        return "inf (exact)"
    return fmt.format(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(c for c, _, _ in TABLE) + " |", "|" + "---|" * len(TABLE)]
    lines += [
        "| " + " | ".join(cell(_model_cell(r) if k == "model" else r.get(k, ""), f) for _, k, f in TABLE) + " |"
        for r in rows
    ]
    return "\n".join(lines)


def _model_cell(row: dict[str, Any]) -> str:
    return f"{row['model']} (unfinished: {row['unfinished']})" if row.get("unfinished") else str(row["model"])


def reasons(rows: list[dict[str, Any]]) -> list[str]:
    """Every distinct "n/a" with its reason: once for a reason every row shares, else per model."""
    per_row = [
        (
            r["model"],
            sorted({v.removeprefix("n/a: ") for v in r.values() if isinstance(v, str) and v.startswith("n/a")}),
        )
        for r in rows
    ]
    shared = set.intersection(*(set(found) for _, found in per_row)) if per_row else set()
    notes = [f"- every row: n/a because {reason}" for reason in sorted(shared)]
    notes += [
        f"- {model}: n/a because {reason}" for model, found in per_row for reason in found if reason not in shared
    ]
    return notes


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def write_report(
    out: Path, rows: list[dict[str, Any]], ref: Reference, options: CompareOptions, data: DataBundle
) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=keys)
    writer.writeheader()
    writer.writerows([{k: _jsonable(r.get(k, "")) for k in keys} for r in rows])
    atomic_write_text(out / "metrics.csv", table.getvalue(), "comparison table")
    meta = {
        "data": data.info.name,
        "n_samples": options.n_samples,
        "n_reference_train_images": len(ref.train_images),
        "n_test_images": len(ref.test_images),
        "seed": options.seed,
        "data_key": ref.data_key,
        "feature_spaces": {s.name: s.label for s in ref.spaces} | {k: na(v) for k, v in ref.unavailable.items()},
    }
    atomic_write_text(
        out / "metrics.json",
        json.dumps({"meta": meta, "rows": [{k: _jsonable(v) for k, v in r.items()} for r in rows]}, indent=2) + "\n",
        "comparison metrics",
    )
    unfinished = [
        f"- {r['model']}: {r['run']} has not finished ({r['unfinished']})" for r in rows if r.get("unfinished")
    ]
    spaces = "\n".join(f"- `{name}`: {label}" for name, label in meta["feature_spaces"].items())
    atomic_write_text(
        out / "report.md",
        f"# genzoo comparison on {data.info.name}\n\n"
        f"{options.n_samples} samples per model (seed {options.seed}); FID, KID, SWD and precision/recall "
        f"against {len(ref.train_images)} training images; reconstructions, likelihoods and the critic on "
        f"{len(ref.test_images)} held-out test images. The first row scores held-out real images the same way: "
        "the floor to read every other row against."
        + (
            f" The test split holds only {len(ref.test_images)} images, so the real row is scored with that many "
            "where models use all their samples; FID reads slightly high on fewer images (KID is unbiased), so "
            "the floor is a little pessimistic."
            if len(ref.test_images) < options.n_samples
            else ""
        )
        + f" Data key `{ref.data_key}` (a hash of every image and label of both splits and the data options; "
        "the cached feature network and reference features belong to it).\n\n"
        + ("Unfinished runs (scored as they are now):\n" + "\n".join(unfinished) + "\n\n" if unfinished else "")
        + f"{markdown_table(rows)}\n\n"
        "Feature spaces:\n" + spaces + "\n\n"
        "Not applicable:\n" + "\n".join(reasons(rows)) + "\n\n"
        "Reconstructions by inversion (`invert_gan=true`, see `recon_method`) search the latent space per "
        "image and are not comparable with an encoder's single pass.\n\n"
        "Columns: SWD is the sliced Wasserstein distance of Karras et al. (2018) averaged over pyramid levels "
        "(per level in metrics.csv); -W critic is the alpha-GAN paper's negative Wasserstein distance from a "
        "fresh WGAN-GP critic (closer to 0 is better); classes: share of classes the zoo classifier finds "
        "among the samples; class KL: KL(generated || data) of the class histograms, in nats. bits/dim compare "
        "only between rows whose likelihood is of the same data (the `likelihood` field in metrics.csv: a "
        "VAE on doodles models binarised pixels, Glow the dequantised 8-bit values).\n\n"
        "Images: `samples.png` (one column per model, first column real test images), `recons.png` "
        "(the same test images, first column the originals), `morphs.png` (one row per model that encodes).\n",
        "comparison report",
    )


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


# -- the command -------------------------------------------------------------------------------------
def output_folder(options: CompareOptions) -> tuple[Path, str]:
    """A folder this comparison alone writes: ``out=`` when it is new or empty, else a fresh
    ``<runs_dir>/compare/<time>[-n]/`` created exclusively (two comparisons in one second get two)."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    if options.out is None:
        out = exclusive_dir(Path(options.runs_dir) / "compare", stamp, what="comparison folder")
        return out, out.name
    out = Path(options.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ZooError(f"out={out} already holds files; pick a new folder (or leave out= unset for a fresh one)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ZooError(f"cannot create out={out}: {e.strerror or e}") from None
    return out, stamp


def compare(options: CompareOptions, data_options: dict[str, Any], tracker_factory) -> Path:
    data_options = dict(data_options)
    source = data_options.pop("source")
    data_name = data_options["name"]
    device = pick_device(options.device)
    picked = pick_runs(options, {"source": source, **data_options})
    usable = {name: p for name, p in picked.items() if p.run is not None}
    rows: list[dict[str, Any]] = [{"model": name, "run": na(p.reason)} for name, p in picked.items() if p.run is None]
    if not usable:
        raise ZooError(
            f"no finished runs to compare on {data_name} under {options.runs_dir}/. "
            f"Train some first, e.g. python train.py model=dcgan data={data_name}"
            + "".join(f"\n  {r['model']}: {r['run']}" for r in rows if "other data" in r["run"])
        )
    data = build_data(source, **data_options)
    key = data_key(data, {"source": source, **data_options})

    out, stamp = output_folder(options)
    try:
        log.info("comparing %s on %s -> %s (data key %s)", ", ".join(usable), data.info.name, out, key)
        ref = build_reference(data, options, key)
        scored = [real_row(ref, options, data.info.num_classes)]
        images: dict[str, dict[str, torch.Tensor]] = {}
        for name, choice in usable.items():
            log.info("scoring %s (%s)", name, choice.run)
            started = time.perf_counter()
            try:
                row, imgs = model_row(name, choice.run, data, ref, options, device)
            except ZooError as e:  # one unloadable run does not sink the comparison
                rows.append({"model": name, "run": na(f"cannot load: {e}")})
                continue
            if choice.unfinished:
                row["unfinished"] = choice.unfinished
            log.info("%s scored in %.0f s", name, time.perf_counter() - started)
            scored.append(row)
            images[name] = imgs
        rows = scored + rows
        grids = write_grids(out, images, data)
        write_report(out, rows, ref, options, data)  # last: a report on disk is a complete one
    except BaseException:
        if not any(out.iterdir()):
            out.rmdir()
        raise
    print(markdown_table(rows))
    for line in reasons(rows):
        print(line)
    print(f"report: {out / 'report.md'}")
    if len(scored) == 1:
        raise ZooError(
            f"no model could be scored on {data_name} (the report in {out} says why for each); "
            "fix or retrain those runs and compare again"
        )

    tracker = tracker_factory(out, data.info.name, stamp)
    try:
        keys = [k for _, k, _ in TABLE]
        tracker.log_table("comparison", keys, [[str(_jsonable(r.get(k, ""))) for k in keys] for r in rows])
        tracker.log_images(grids, step=0)
    finally:
        tracker.finish()
    return out


def check_compare_config(config: dict[str, Any]) -> tuple[CompareOptions, LoggerConfig]:
    """Every option of a ``compare.py`` configuration, checked before anything is read or written."""
    options = check(CompareOptions, config, "")
    logger = check(LoggerConfig, options.logger, "logger.")
    source, data_options = split_group(options.data, "source", "data.")
    check_data_options(source, **data_options)
    return options, logger


def main(cfg) -> None:
    import sys

    from zoo.logs import setup_logging
    from zoo.tracking import Tracker

    setup_logging()
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    try:
        options, logger = check_compare_config(config)
        if options.progress is None:
            options.progress = sys.stderr.isatty()

        def tracker(out: Path, data_name: str, stamp: str) -> Tracker:
            return Tracker(
                mode=logger.mode,
                project=logger.project,
                run_dir=out,
                name=f"compare-{data_name}-{stamp}",
                group=data_name,
                tags=["compare", data_name],
                config=config,
            )

        compare(options, options.data, tracker)
    except ZooError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted; a report.md in the comparison folder is complete, as it is written last", file=sys.stderr)
        raise SystemExit(130) from None
