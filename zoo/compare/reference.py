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
from zoo.data.base import DataBundle
from zoo.metrics.features import FeatureSpace, embed, inception_space, zoo_space


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
        state, _ = cached(path, lambda space=space: {"features": embed(space.extract, train_images)})
        features[space.name] = state["features"]
    return Reference(train_images, test_images, test_labels, spaces, features, unavailable, key)
