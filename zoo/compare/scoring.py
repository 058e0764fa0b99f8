"""One row of the comparison: the same metrics for every model, by what it declares it can do."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from zoo.compare.discovery import Picked
from zoo.compare.na import NA
from zoo.compare.options import CompareOptions, MetricOptions
from zoo.compare.reference import Reference
from zoo.compare.report import RUN_COST
from zoo.data.base import DataBundle
from zoo.errors import ZooError
from zoo.evaluation import EvalConfig, evaluate
from zoo.metrics.coverage import class_coverage, precision_recall
from zoo.metrics.critic import image_critic, negative_wasserstein
from zoo.metrics.features import embed
from zoo.metrics.frechet import frechet_distance, kernel_distance
from zoo.metrics.inversion import invert
from zoo.metrics.reconstruction import ReconstructionScores
from zoo.metrics.sliced_wasserstein import swd
from zoo.models.base import GenerativeModel
from zoo.morph import morph_frames
from zoo.progress import Progress
from zoo.runs import read_eval
from zoo.trained import load_trained

REAL = "real data (test vs train)"
Row = dict[str, Any]


def feature_distances(
    images: torch.Tensor, ref: Reference, opts: MetricOptions, seed: int, progress: bool = False
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """FID and KID of images against the training reference in every feature space (the same N
    images in every row: ``ref.sizes``), a reason for each unavailable space, and the features."""
    row: dict[str, Any] = {}
    features: dict[str, torch.Tensor] = {}
    for space in ref.spaces:
        found = features[space.name] = space.features(images[: ref.sizes[space.name]], progress)
        reference = ref.train_features[space.name]
        row[f"fid_{space.name}"] = frechet_distance(reference, found)
        kid_mean, _ = kernel_distance(reference, found, opts.kid_subsets, opts.kid_subset_size, seed)
        row[f"kid_{space.name}_x1e3"] = 1e3 * kid_mean
    for name, reason in ref.unavailable.items():
        row[f"fid_{name}"] = row[f"kid_{name}_x1e3"] = NA(reason)
    return row, features


def sample_quality(
    images: torch.Tensor, ref: Reference, opts: MetricOptions, seed: int, num_classes: int, progress: bool = False
) -> dict[str, float | str]:
    row, features = feature_distances(images, ref, opts, seed, progress)
    for space in ref.spaces:
        reference = ref.train_features[space.name]
        found = precision_recall(reference[: len(features[space.name])], features[space.name], opts.pr_k)
        if space.name == "zoo":
            row |= found
            if space.classify is not None:
                predicted = embed(space.classify, images).argmax(1)
                row |= class_coverage(predicted, ref.test_labels, num_classes)
            else:
                row["classes_covered"] = row["class_kl"] = NA("the data has no labels")
        else:
            row |= {f"{k}_{space.name}": v for k, v in found.items()}
    for name, reason in ref.unavailable.items():
        row[f"precision_{name}"] = row[f"recall_{name}"] = NA(reason)
    n = min(len(ref.train_images), len(images))  # a small training split holds fewer images than the samples
    sliced = swd(ref.train_images[:n], images[:n], opts.swd_patches_per_image, seed=seed)
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
    model: GenerativeModel,
    n: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    progress: bool = False,
    steps: int | None = None,
) -> tuple[torch.Tensor, float]:
    """``n`` samples (on the CPU) with a fixed seed, and the images per second it took; ``steps``:
    an iterative sampler's step count (None: the model's own)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    controls = {"steps": steps} if steps is not None else {}
    start = time.perf_counter()
    chunks = []
    with Progress(n, f"sampling {type(model).__name__}", "samples", bar=progress) as bar:
        for i in range(0, n, batch_size):
            chunks.append(model.sample(min(batch_size, n - i), generator=generator, **controls).float().cpu())
            bar.update(len(chunks[-1]))
    return torch.cat(chunks), n / (time.perf_counter() - start)


# figures that describe a run rather than measure it: one seed's value stands for all
DESCRIPTIVE = {"step", "ema", "sample_temperature", "sample_evaluations", "parameters", "seed"}


def over_seeds(rows: list[Row]) -> Row:
    """One row for the runs of one model that differ only in their seed: every measured figure's
    mean over the seeds, its spread (the sample standard deviation) as ``<key>_spread``, and the
    number of seeds; a figure that is not a finite number in every row keeps the first row's value."""
    if len(rows) == 1:
        return rows[0]
    out: Row = dict(rows[0])
    for key in rows[0]:
        values = [r.get(key) for r in rows]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        if key in DESCRIPTIVE or not numbers:
            continue
        mean = sum(values) / len(values)
        out[key] = mean
        out[f"{key}_spread"] = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    out["seeds"] = len(rows)
    out["run"] = ", ".join(str(r["run"]) for r in rows)
    return out


def score_picked(name: str, choice: Picked, score) -> tuple[Row, Any]:
    """``score(name, run_dir) -> (row, images)`` for a picked run, marked where it is unfinished; a
    run that is missing or cannot be loaded gets a row with the reason instead (images None), so
    one bad run never sinks a comparison."""
    if choice.run is None:
        return {"model": name, "run": NA(choice.reason)}, None
    try:
        row, images = score(name, choice.run)
        rows = [row] + [score(name, run)[0] for run in choice.seeds]  # the newest run's images stand for all
    except ZooError as e:
        return {"model": name, "run": NA(f"cannot load: {e}")}, None
    row = over_seeds(rows)
    if choice.unfinished:
        row["unfinished"] = choice.unfinished
    return row, images


def model_row(
    name: str, run_dir: Path, data: DataBundle, ref: Reference, options: CompareOptions, device: torch.device
) -> tuple[Row, dict[str, torch.Tensor]]:
    """One model's metrics, and the images for the side-by-side grids: the same scorers for every
    model, each asking the model only what it declares."""
    trained = load_trained(run_dir, device=device)
    model = trained.model
    row: Row = {
        "model": name,
        "run": str(run_dir),
        "step": trained.step,
        "ema": int(trained.uses_ema),
        # sample() as the model draws it by default; a flow's temperature changes every sample metric
        "sample_temperature": model.sample_temperature,
    }
    images: dict[str, torch.Tensor] = {}
    row |= score_samples(model, data, ref, options, device, images)
    row |= score_reconstructions(model, data, ref, options, device, images)
    row |= score_likelihood(model, data, options, device)
    row |= score_cost(model, run_dir)
    return row, images


def finite_samples(samples: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The samples with NaN and infinite pixels set to 0 and 1 (as a grid draws them), and how many
    samples had one. A flow's inverse can overflow on a rare z (2 of 10,000 for a short Glow run on
    MNIST): those samples stay in and count against the model, and the table says how many."""
    failed = int((~torch.isfinite(samples).flatten(1).all(1)).sum())
    return torch.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=0.0), failed


def sampling_steps(model: GenerativeModel, options: CompareOptions) -> int | None:
    """The steps an iterative sampler (``"steps"`` in ``sample_controls``) draws compare's samples in:
    None (its own) unless those cost more network evaluations per sample than
    ``max_sample_evaluations`` allows (resolved by ``for_device``), then the most steps within the
    limit (at least one)."""
    limit = options.max_sample_evaluations
    assert limit != "auto", "resolve the options with for_device first"
    if "steps" not in model.sample_controls or limit is None or model.sample_evaluations() <= limit:
        return None
    steps = 1
    while model.sample_evaluations(steps + 1) <= limit:
        steps += 1
    return steps


def score_samples(
    model: GenerativeModel, data: DataBundle, ref: Reference, options: CompareOptions, device, images: dict
) -> Row:
    """``n_samples`` samples from a fixed seed, scored by ``sample_quality``; sampling speed and memory."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    steps = sampling_steps(model, options)
    samples, speed = draw_samples(
        model, options.n_samples, options.batch_size, options.seed, device, bool(options.progress), steps
    )
    samples, failed = finite_samples(samples)
    images["samples"] = samples[:8]
    row: Row = {
        "sample_images_per_s": speed,
        "sample_evaluations": model.sample_evaluations(steps),
        "nonfinite_samples": failed,
    }
    if steps is not None:  # said under the table: fewer steps than the model's own
        row["sampled_with"] = (
            f"{steps} step{'s' * (steps > 1)}, {model.sample_evaluations(steps)} network evaluations per sample "
            f"(its own settings take {model.sample_evaluations()}), to fit max_sample_evaluations"
        )
    row["peak_memory_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else NA("measured on CUDA only")
    )
    return row | sample_quality(
        samples, ref, options.metrics, options.seed, data.info.num_classes, bool(options.progress)
    )


@torch.no_grad()  # a decoder is differentiable (GAN inversion turns gradients back on where it needs them)
def score_reconstructions(
    model: GenerativeModel, data: DataBundle, ref: Reference, options: CompareOptions, device, images: dict
) -> Row:
    """Test images through encode/decode (``can_encode``), by inversion (``can_decode`` and
    ``invert_gan=true``), or n/a with the reason; a morph for the grids where the model encodes."""
    if model.can_encode:
        scores = ReconstructionScores()
        n = scored_test_images(model, len(ref.test_images), options)
        with Progress(n, f"reconstructing with {type(model).__name__}", "images", bool(options.progress)) as bar:
            for i in range(0, n, options.batch_size):
                x = ref.test_images[i : min(i + options.batch_size, n)].to(device)
                y = ref.test_labels[i : min(i + options.batch_size, n)].to(device)
                scores.update(x, model.reconstruct(x, y))
                bar.update(len(x))
        x, y = data.test.spread(8)
        images["recons"] = model.reconstruct(x.to(device), y.to(device)).cpu()
        a, b = _morph_ends(data)
        xa, ya = (t.to(device) for t in data.test.batch(torch.tensor([a])))
        xb, yb = (t.to(device) for t in data.test.batch(torch.tensor([b])))
        labels = (ya, yb) if model.conditional else (None, None)
        images["morph"] = morph_frames(model, xa, xb, options.metrics.morph_frames, "slerp", *labels).cpu()
        method = "encode/decode" + (f" (first {n} test images)" if n < len(ref.test_images) else "")
        return {f"recon_{k}": v for k, v in scores.result().items()} | {"recon_method": method}
    if options.invert_gan and model.can_decode:
        n = min(options.invert_images, len(ref.test_images))
        scores = ReconstructionScores()
        with Progress(n, f"inverting {type(model).__name__}", "images", bool(options.progress)) as bar:
            for i in range(0, n, options.batch_size):
                x = ref.test_images[i : min(i + options.batch_size, n)].to(device)
                scores.update(x, invert(model, x, options.invert_steps, seed=options.seed + i))
                bar.update(len(x))
        x, _ = data.test.spread(8)
        images["recons"] = invert(model, x.to(device), options.invert_steps, seed=options.seed).cpu()
        method = f"inversion (z optimised per image, {options.invert_steps} Adam steps, {n} test images)"
        return {f"recon_{k}": v for k, v in scores.result().items()} | {"recon_method": method}
    reason = NA("no encoder" + (" (invert_gan=true searches its latent space)" if model.can_decode else ""))
    return dict.fromkeys(("recon_mse", "recon_psnr", "recon_ssim", "recon_method"), reason)


def score_likelihood(model: GenerativeModel, data: DataBundle, options: CompareOptions, device) -> Row:
    """Test bits/dim (``has_likelihood``), labelled with what kind of figure it is and of what data."""
    if not model.has_likelihood:
        return dict.fromkeys(("bits_per_dim", "likelihood"), NA("no likelihood"))
    n = scored_test_images(model, len(data.test), options)
    results = evaluate(
        model,
        data.test,
        EvalConfig(n_test=n, batch_size=options.batch_size, seed=options.seed),
        device,
        bool(options.progress),
        f"likelihood of {type(model).__name__}",
        reconstructions=False,  # scored above, on the same images
    )
    subset = f" (first {n} test images)" if n < len(data.test) else ""
    return {
        "bits_per_dim": results["test/bits_per_dim"],
        "likelihood": f"{model.likelihood_kind} on {model.likelihood_data}{subset}",
    }


def scored_test_images(model: GenerativeModel, available: int, options: CompareOptions) -> int:
    """How many of the test images a model's reconstructions and likelihood use: all of them, but
    ``iterative_test_images`` for a model whose every sample takes several network evaluations
    (its encoder and likelihood run the same solver: 2 x NFE evaluations per reconstruction)."""
    if model.sample_evaluations() > 1 and options.iterative_test_images is not None:
        return min(options.iterative_test_images, available)
    return available


def score_cost(model: GenerativeModel, run_dir: Path) -> Row:
    """Parameters, and the run's own record of its training time and images."""
    record = read_eval(run_dir)
    minutes = record.get("train/minutes", NA("no eval.json in the run"))
    images = record.get("train/images_seen", NA("no eval.json in the run"))
    if isinstance(minutes, NA) or isinstance(images, NA):
        speed = NA("no eval.json in the run")
    else:  # over the run's wall time, its evaluations and checkpoints included
        speed = images / (minutes * 60) if minutes > 0 else NA("the run trained for no time")
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_minutes": minutes,
        "images_seen": images,
        "train_images_per_s": speed,
    }


def _morph_ends(data: DataBundle) -> tuple[int, int]:
    """Two test images of different classes where there are labels (the first and the last class)."""
    labels = data.test.labels
    if data.info.num_classes > 1 and len(labels.unique()) > 1:
        return int((labels == labels.min()).nonzero()[0]), int((labels == labels.max()).nonzero()[0])
    return 0, len(labels) // 2


def real_row(ref: Reference, options: CompareOptions, num_classes: int) -> dict[str, float | str]:
    row: dict[str, float | str] = {"model": REAL, "run": "", "step": "", "ema": ""}
    row |= sample_quality(ref.test_images, ref, options.metrics, options.seed, num_classes, bool(options.progress))
    for key in ("recon_mse", "recon_psnr", "recon_ssim", "bits_per_dim", "likelihood"):
        row[key] = NA("reference row")
    sampling_cost = ("sample_images_per_s", "sample_evaluations", "nonfinite_samples", "peak_memory_mb")
    row |= dict.fromkeys((*sampling_cost, *(key for _, key, _ in RUN_COST)), "")
    return row
