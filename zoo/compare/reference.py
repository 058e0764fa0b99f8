"""The real images every row is scored against, their features (cached), and the key of both."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zoo.checkpoint import cached
from zoo.compare.options import CompareOptions
from zoo.data.base import DataBundle, update_with_pixels
from zoo.errors import ZooError
from zoo.metrics.features import FeatureSpace, inception_space, zoo_space


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
    update_with_pixels(digest, data)
    return digest.hexdigest()[:16]


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
    sizes: dict[str, int]  # feature space -> images per row in it (the same N for every row)


CPU_INCEPTION_SAMPLES = 500  # ~12.5 images/s on 2 CPU cores: 7 x 500 images for 5 models take ~5 minutes
# n_samples=auto: what a comparison of every family fits in on 2 CPU cores (README, "Comparing models")
CUDA_SAMPLES, CPU_SAMPLES = 10_000, 2_000
# max_sample_evaluations=auto on a CPU: at its own 25 steps DDPM drew 9.3 samples/s on 2 cores
# (18 min for 10,000); flow matching's 12 Heun steps (24 evaluations) 12.3/s
CPU_SAMPLE_EVALUATIONS = 12


def for_device(options: CompareOptions, device: torch.device) -> CompareOptions:
    """The options with every ``auto`` that depends on the device made a number: ``n_samples``
    (``CUDA_SAMPLES`` or ``CPU_SAMPLES``), ``max_sample_evaluations`` (no limit on CUDA,
    ``CPU_SAMPLE_EVALUATIONS`` on a CPU) and ``metrics.inception_samples`` (every sample on CUDA,
    ``CPU_INCEPTION_SAMPLES`` on a CPU: Inception-v3 at 299x299 costs ~5.7 GFLOPs an image)."""
    cuda = device.type == "cuda"
    n_samples = options.n_samples
    if n_samples == "auto":
        n_samples = CUDA_SAMPLES if cuda else CPU_SAMPLES
    evaluations = options.max_sample_evaluations
    if evaluations == "auto":
        evaluations = None if cuda else CPU_SAMPLE_EVALUATIONS
    inception = options.metrics.inception_samples
    if inception == "auto":
        inception = n_samples if cuda else CPU_INCEPTION_SAMPLES
    metrics = options.metrics.model_copy(update={"inception_samples": inception})
    return options.model_copy(
        update={"n_samples": n_samples, "max_sample_evaluations": evaluations, "metrics": metrics}
    )


def inception_samples(options: CompareOptions) -> int:
    """How many images of each row enter the Inception columns: ``metrics.inception_samples`` (resolved
    by ``for_device``), never more than there are samples."""
    assert options.metrics.inception_samples != "auto", "resolve the options with for_device first"
    return min(options.metrics.inception_samples, options.n_samples)


def check_set_sizes(data: DataBundle, options: CompareOptions) -> None:
    """The metric options whose valid range depends on the data, checked against it before any
    folder is made: each k-NN ball of precision/recall needs ``pr_k`` other points in the smallest set
    scored (samples, training reference, test images, the Inception N); FID and KID (all that
    ``task=colourise`` computes) need two."""
    sets = {"n_samples": options.n_samples, "training images": len(data.train), "test images": len(data.test)}
    if "inception" in options.metrics.feature_spaces:
        sets["metrics.inception_samples"] = inception_samples(options)
    name, smallest = min(sets.items(), key=lambda item: item[1])
    more = " or raise it" if name in ("n_samples", "metrics.inception_samples") else " or use more data"
    if options.task == "colourise":
        if smallest < 2:
            raise ZooError(f"FID and KID need at least 2 images in every set scored, but {name} gives {smallest}{more}")
    elif options.metrics.pr_k >= smallest:
        raise ZooError(
            f"metrics.pr_k={options.metrics.pr_k} needs more than {options.metrics.pr_k} images in every set scored, "
            f"but {name} gives {smallest}; lower metrics.pr_k below {smallest}{more}"
        )


def build_reference(data: DataBundle, options: CompareOptions, key: str, device: torch.device) -> Reference:
    opts, progress = options.metrics, bool(options.progress)
    generator = torch.Generator().manual_seed(options.seed)
    n_train = min(options.n_samples, len(data.train))
    train_images, _ = data.train.batch(torch.randperm(len(data.train), generator=generator)[:n_train])
    n_test = min(options.n_samples, len(data.test))
    test_images, test_labels = data.test.batch(torch.randperm(len(data.test), generator=generator)[:n_test])

    spaces: list[FeatureSpace] = []
    unavailable = {n: "not in metrics.feature_spaces" for n in ("zoo", "inception") if n not in opts.feature_spaces}
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
            space = inception_space(opts.inception_weights, opts.inception_download, progress, device)
            if isinstance(space, str):
                unavailable["inception"] = space
            else:
                spaces.append(space)
    # Inception: the same N in every row, the real row's test images included (a small test split caps it)
    n_inception = min(n_train, n_test, inception_samples(options))
    sizes = {s.name: n_inception if s.name == "inception" else n_train for s in spaces}
    features = {}
    for space in spaces:  # the reference features, computed once per data set, sample, size and network
        n = sizes[space.name]
        path = Path(opts.cache_dir) / f"reference-{space.name}-{space.key}-data{key}-n{n}-seed{options.seed}.pt"
        state, _ = cached(
            path, lambda s=space, n=n: {"features": s.features(train_images[:n], progress, "(reference)")}
        )
        features[space.name] = state["features"]
    return Reference(train_images, test_images, test_labels, spaces, features, unavailable, key, sizes)
