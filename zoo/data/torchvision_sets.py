"""MNIST, Fashion-MNIST, CIFAR-10 and Flowers-102 through torchvision, held in memory as uint8.

``download=True`` lets torchvision fetch the files into ``root`` for users who have a network;
files already in torchvision's layout under ``root`` are used as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from zoo.data.base import DataBundle, DataInfo, ImageDataset, fit_to_size
from zoo.data.folder import load_image
from zoo.errors import ZooError
from zoo.options import ImageSize, Name
from zoo.progress import tracked
from zoo.registry import DATASETS


def _open(factory: Callable, title: str, root: Path, download: bool, **kwargs):
    try:
        return factory(root=str(root), download=download, **kwargs)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise ZooError(
            f"{title} not found in {root} ({e}). Set data.download=true to fetch it, or point data.root "
            f"(or ZOO_DATA_DIR) at a folder holding it in torchvision's layout (e.g. {root}/{title}/raw)."
        ) from None
    except OSError as e:  # includes urllib's URLError when there is no network
        raise ZooError(
            f"could not download {title} into {root}: {getattr(e, 'reason', e)}. Download it on a machine with a "
            f"network, or point data.root (or ZOO_DATA_DIR) at a folder holding it in torchvision's layout."
        ) from None


def _digits(title: str, name: str, root: str, image_size: int, download: bool) -> DataBundle:
    from torchvision import datasets

    factory = getattr(datasets, title)
    parts = [_open(factory, title, Path(root).expanduser(), download, train=t) for t in (True, False)]
    train, test = ([fit_to_size(p.data.unsqueeze(1), image_size, "pad"), p.targets] for p in parts)
    classes = tuple(parts[0].classes)
    info = DataInfo(name, 1, image_size, len(classes), classes, binary=title == "MNIST")
    return DataBundle(ImageDataset(*train), ImageDataset(*test), info)


@DATASETS.register("mnist")
def mnist(name: Name, root: str, image_size: ImageSize = 28, download: bool = True) -> DataBundle:
    return _digits("MNIST", name, root, image_size, download)


@DATASETS.register("fashion_mnist")
def fashion_mnist(name: Name, root: str, image_size: ImageSize = 28, download: bool = True) -> DataBundle:
    return _digits("FashionMNIST", name, root, image_size, download)


@DATASETS.register("cifar10")
def cifar10(name: Name, root: str, image_size: ImageSize = 32, download: bool = True) -> DataBundle:
    from torchvision import datasets

    parts = [_open(datasets.CIFAR10, "CIFAR10", Path(root), download, train=t) for t in (True, False)]

    def tensors(p):
        images = torch.from_numpy(np.ascontiguousarray(p.data)).permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return fit_to_size(images.contiguous(), image_size, "resize"), torch.tensor(p.targets)

    info = DataInfo(name, 3, image_size, 10, tuple(parts[0].classes))
    return DataBundle(ImageDataset(*tensors(parts[0])), ImageDataset(*tensors(parts[1])), info)


@DATASETS.register("flowers102")
def flowers102(name: Name, root: str, image_size: ImageSize = 64, download: bool = True) -> DataBundle:
    """Oxford Flowers-102. Its official train and val splits are small (1,020 each), so we train on
    train + test (7,169 images) and hold out val (1,020)."""
    from torchvision import datasets

    splits = {
        s: _open(datasets.Flowers102, "flowers-102", Path(root), download, split=s) for s in ("train", "val", "test")
    }

    def tensors(parts):
        files = [f for p in parts for f in p._image_files]
        labels = torch.tensor([lab for p in parts for lab in p._labels])
        decoding = tracked(files, "decoding flowers102", "images", bar=sys.stderr.isatty())
        images = torch.stack([load_image(Path(f), image_size, 3) for f in decoding])
        return images, labels

    info = DataInfo(name, 3, image_size, 102)
    return DataBundle(
        ImageDataset(*tensors([splits["train"], splits["test"]])), ImageDataset(*tensors([splits["val"]])), info
    )
