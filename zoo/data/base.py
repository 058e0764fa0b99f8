"""What every data source returns, and the deterministic batch stream the trainer reads.

All data sets are held in memory as ``uint8`` images ``(N, C, H, W)`` plus integer labels.
Batches are float tensors in ``[0, 1]``; each model maps them to its own range. Holding the
data in memory keeps the input pipeline out of the way of the model (no worker processes), and
makes the batch order a pure function of ``(seed, step)`` so that a resumed run sees exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from zoo.errors import ZooError
from zoo.seeding import STREAM_SEED_STRIDE


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data."""

    name: str
    channels: int
    image_size: int
    num_classes: int = 0  # 0: unlabelled
    class_names: tuple[str, ...] = ()
    binary: bool = False  # ink-on-background data (doodles, digits): a Bernoulli pixel model fits

    @property
    def dims(self) -> int:
        return self.channels * self.image_size * self.image_size


class ImageDataset:
    """Images ``(N, C, H, W)`` uint8 and labels ``(N,)`` int64, both in memory."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels is None:
            labels = torch.zeros(len(images), dtype=torch.long)
        if len(labels) != len(images):
            raise ValueError("images and labels differ in length")
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images in [0, 1] and labels for the given indices."""
        return self.images[index].float().div_(255.0), self.labels[index]

    def first(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch(torch.arange(min(n, len(self))))

    def spread(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` images evenly spaced over the set: test splits are stored class by class, so this
        shows every class in a reconstruction grid where ``first`` would show one."""
        n = min(n, len(self))
        return self.batch(torch.div(torch.arange(n) * len(self), n, rounding_mode="floor"))


@dataclass
class DataBundle:
    train: ImageDataset
    test: ImageDataset
    info: DataInfo


def update_with_pixels(digest: hashlib._Hash, data: DataBundle) -> None:
    """Feed every pixel and label of both splits, and their shapes, to a hashlib digest."""
    for split in (data.train, data.test):
        digest.update(str(tuple(split.images.shape)).encode())
        digest.update(split.images.contiguous().numpy().tobytes())
        digest.update(split.labels.contiguous().numpy().tobytes())


def content_key(data: DataBundle) -> str:
    """A hash of exactly which images and labels the data holds, wherever it is stored: a run's
    checkpoint keeps it, so resuming on a folder whose pictures were replaced is refused."""
    digest = hashlib.sha256()
    update_with_pixels(digest, data)
    return digest.hexdigest()[:16]


def check_has_colour(data: DataBundle, who: str) -> None:
    """A colouriser's data: three channels, and colour in its pixels. A folder of grey photos is
    read as RGB with R = G = B everywhere, which passes a check of the channel count but gives a
    colouriser nothing to learn (and a meaningless negative bits figure)."""
    channels = data.info.channels
    fix = "pick an RGB data set (data=flowers64, catfaces64, cifar10, flowers102) or a folder of colour photos"
    if channels != 3:
        raise ZooError(f"{who} needs colour images, and {data.info.name} has {channels} channel; {fix}")
    images = data.train.images  # (N, 3, H, W) uint8
    if bool((images[:, 0] == images[:, 1]).all() and (images[:, 1] == images[:, 2]).all()):
        raise ZooError(
            f"{who} needs colour images, but every pixel of the {len(images)} training images of {data.info.name} "
            f"is grey (R = G = B); {fix}"
        )


def seeded_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic (train, test) index split; the same ``seed`` always gives the same split."""
    if not 0.0 < test_fraction < 1.0:
        raise ZooError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def fit_to_size(images: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Bring uint8 ``(N, C, H, W)`` square images to ``size``.

    ``pad`` centres smaller images on a zero background (28x28 doodles and digits -> 32x32, the
    strokes keep their pixels) and falls back to resizing when the image is larger than ``size``;
    ``resize`` uses area/bilinear resampling.
    """
    h = images.shape[-1]
    if h == size:
        return images
    if mode == "pad" and h < size:
        total = size - h
        before = total // 2
        return F.pad(images, (before, total - before, before, total - before))
    if mode not in ("pad", "resize"):
        raise ZooError(f"unknown resize mode '{mode}'; use pad or resize")
    out = []
    for chunk in images.split(4096):
        x = chunk.float()
        x = F.interpolate(x, size=(size, size), mode="area" if size < h else "bilinear", align_corners=None)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


class BatchStream:
    """An endless, deterministic stream of training batches, of a fixed or a changing size.

    Epoch ``e`` visits the data in the order ``randperm(N)`` drawn from a generator seeded with
    ``(seed, e)``. A batch never straddles two epochs: images left at the end of an epoch that
    cannot fill the next batch are skipped. ``position`` counts the images of the stream used or
    skipped, so a stream started at a saved ``position`` continues with exactly the same batches.
    The trainer checks its batch sizes against the data and the processes once, at start
    (``zoo.trainer.check_batches``).
    """

    def __init__(self, dataset: ImageDataset, seed: int, start: int = 0):
        self.dataset, self.seed = dataset, seed
        self.position = start
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def _order(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * STREAM_SEED_STRIDE + epoch)
            self._epoch, self._perm = epoch, torch.randperm(len(self.dataset), generator=g)
        return self._perm

    @staticmethod
    def _advance(position: int, batch_size: int, n: int) -> tuple[int, int]:
        """(epoch, offset) of the batch that starts at ``position`` in a stream over ``n`` images."""
        epoch, offset = divmod(position, n)
        if offset + batch_size > n:  # not enough left in this epoch
            epoch, offset = epoch + 1, 0
        return epoch, offset

    def take(self, batch_size: int, shard: tuple[int, int] = (0, 1)) -> tuple[torch.Tensor, torch.Tensor]:
        """The next global batch of ``batch_size`` images. With ``shard=(rank, world)`` every
        process walks the same stream and gets its own contiguous 1/world of each batch (the role a
        DistributedSampler plays, with a position that resumes exactly)."""
        rank, world = shard
        n = len(self.dataset)
        epoch, offset = self._advance(self.position, batch_size, n)
        index = self._order(epoch)[offset : offset + batch_size]
        self.position = epoch * n + offset + batch_size
        index = index[rank * batch_size // world : (rank + 1) * batch_size // world]
        return self.dataset.batch(index)

    @staticmethod
    def position_after(batch_sizes: Iterable[int], dataset_size: int) -> int:
        """The position after batches of these sizes (for checkpoints that predate ``position``)."""
        position = 0
        for b in batch_sizes:
            epoch, offset = BatchStream._advance(position, b, dataset_size)
            position = epoch * dataset_size + offset + b
        return position
