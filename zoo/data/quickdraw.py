"""Google's Quick, Draw! doodles in the official "numpy_bitmap" format.

Each category is one ``.npy`` file holding a ``(N, 784)`` uint8 array: 28x28 doodles, 0 =
background, 255 = ink. Files are looked up in ``<root>/quickdraw/`` as ``<category>.npy`` or
``full_numpy_bitmap_<category>.npy`` (spaces or underscores in the name), and a missing one is
downloaded from the official public bucket. Labels are indices into ``categories``.
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import numpy as np
import torch
from pydantic import Field

from zoo.data.base import DataBundle, DataInfo, ImageDataset, fit_to_size, seeded_split
from zoo.data.download import download_file
from zoo.errors import ZooError
from zoo.files import discard
from zoo.options import Count, Fraction, ImageSize, Name, Seed
from zoo.registry import DATASETS

log = logging.getLogger("zoo.data")
OFFICIAL_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap"
PIXELS = 28 * 28


@cache
def official_categories() -> tuple[str, ...]:
    """The 345 category names of the public data set, as Google spells them."""
    text = resources.files("zoo.data").joinpath("quickdraw_categories.txt").read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _key(name: str) -> str:
    return name.strip().lower().replace("_", " ")


def resolve_category(name: str) -> str:
    """The official spelling of ``name`` ("smiley_face" -> "smiley face"), or a ZooError with close matches."""
    by_key = {_key(c): c for c in official_categories()}
    if _key(name) in by_key:
        return by_key[_key(name)]
    close = difflib.get_close_matches(_key(name), list(by_key), n=4, cutoff=0.6)
    hint = f" Close matches: {', '.join(by_key[c] for c in close)}." if close else ""
    raise ZooError(
        f"'{name}' is not a Quick, Draw! category.{hint} The 345 names are in zoo/data/quickdraw_categories.txt."
    )


def local_candidates(root: Path, category: str) -> list[Path]:
    names = []
    for spelling in (category, category.replace(" ", "_")):
        names += [f"{spelling}.npy", f"full_numpy_bitmap_{spelling}.npy"]
    return [root / n for n in dict.fromkeys(names)]


def load_bitmaps(path: Path, url: str | None = None) -> np.ndarray:
    """Open one category file (memory-mapped) and check it is a ``(N, 784)`` uint8 array."""
    fix = f"Delete it and rerun to download it again from {url}." if url else "Replace it with the official file."
    expected = "Expected a Quick, Draw! numpy_bitmap array of shape (N, 784), dtype uint8"
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise ZooError(f"cannot read {path}: {e.strerror or e}. {fix}") from None
    if head.startswith(b"PK"):  # np.load would hand back an archive, not an array
        raise ZooError(f"{path} is a .npz archive (a zip of arrays), not a .npy array. {expected}. {fix}")
    if head != b"\x93NUMPY" and len(head) == 6:  # np.load would call any other file "pickled data"
        raise ZooError(f"{path} is not a .npy file (it begins {head!r}: a web page or a text file?). {expected}. {fix}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ZooError(f"{path} is not a readable .npy file ({e}); it may be truncated. {expected}. {fix}") from None
    if array.ndim != 2 or array.shape[1] != PIXELS or array.dtype != np.uint8 or len(array) == 0:
        raise ZooError(
            f"{path} holds an array of shape {array.shape} and dtype {array.dtype}; expected a Quick, Draw! "
            f"numpy_bitmap array of shape (N, 784) with N > 0, dtype uint8. {fix}"
        )
    return array


def source(root: Path, category: str, base_url: str) -> tuple[str, Path]:
    """Where a category's official file is downloaded from, and where it is saved."""
    return f"{base_url.rstrip('/')}/{quote(category)}.npy", root / f"{category.replace(' ', '_')}.npy"


def missing_files(root: Path, categories: list[str], base_url: str) -> str:
    """Every category without a local file, as 'url -> path' lines to download by hand."""
    gone = [c for c in categories if not any(p.is_file() for p in local_candidates(root, c))]
    lines = [f"\n  {url} -> {dest}" for url, dest in (source(root, c, base_url) for c in gone)]
    return f" {len(gone)} categories have no file in {root}:{''.join(lines)}" if len(gone) > 1 else ""


def fetch_category(root: Path, category: str, download: bool, base_url: str, progress: bool = True) -> np.ndarray:
    """The bitmaps of one category, downloading the file into ``root`` if it is not there."""
    for path in local_candidates(root, category):
        if path.is_file():
            return load_bitmaps(path)
    url, dest = source(root, category, base_url)
    if not download:
        raise ZooError(
            f"Quick, Draw! category '{category}' not found in {root} (looked for "
            f"{', '.join(p.name for p in local_candidates(root, category))}). Set data.download=true, "
            f"or download {url} to {dest}, or point data.root (or ZOO_DATA_DIR) at a folder that has it."
        )
    download_file(url, dest, progress=progress)
    try:
        return load_bitmaps(dest, url)
    except ZooError:
        discard(dest)  # never leave a downloaded file that looks valid but is not
        raise


def chosen_categories(categories: list[str]) -> list[str]:
    """``data.categories`` by their official names, each named once: two labels for one category
    would also put the same doodles in train and test."""
    official = [resolve_category(c) for c in categories]
    twice = sorted({c for c in official if official.count(c) > 1})
    if twice:
        raise ZooError(
            f"data.categories names {', '.join(repr(c) for c in twice)} more than once; list each category once"
        )
    return official


@DATASETS.register("quickdraw")
def quickdraw(
    name: Name,
    root: str,
    categories: Annotated[list[str], Field(min_length=1)],
    max_per_category: Count | None = 10000,
    test_fraction: Fraction = 0.1,
    split_seed: Seed = 0,
    image_size: ImageSize = 32,
    download: bool = True,
    base_url: str = OFFICIAL_URL,
    progress: bool | None = None,
) -> DataBundle:
    official = chosen_categories(categories)
    root_path = Path(root).expanduser() / "quickdraw"
    progress = sys.stderr.isatty() if progress is None else progress  # download bars in a terminal
    missing = missing_files(root_path, official, base_url)  # named all at once if one cannot be had

    def bitmaps(category: str) -> np.ndarray:
        try:
            return fetch_category(root_path, category, download, base_url, progress)
        except ZooError as e:
            raise ZooError(f"{e}{missing}") from None

    return split_categories(name, official, bitmaps, max_per_category, test_fraction, split_seed, image_size)


def split_categories(
    name: str,
    categories: list[str],
    bitmaps: Callable[[str], np.ndarray],
    max_per_category: int | None,
    test_fraction: float,
    split_seed: int,
    image_size: int,
) -> DataBundle:
    """Each category's ``bitmaps`` (at most ``max_per_category``, a seeded choice) split into
    train and test by ``split_seed`` alone, labelled by their index in ``categories``."""
    train_x, train_y, test_x, test_y = [], [], [], []
    for label, category in enumerate(categories):
        drawings = bitmaps(category)
        rng = np.random.default_rng([split_seed, label])
        keep = len(drawings) if max_per_category is None else min(max_per_category, len(drawings))
        chosen = np.sort(rng.permutation(len(drawings))[:keep])
        images = torch.from_numpy(np.ascontiguousarray(drawings[chosen])).view(-1, 1, 28, 28)  # (N, 1, 28, 28)
        train_idx, test_idx = seeded_split(len(images), test_fraction, split_seed + label)
        train_x.append(images[train_idx])
        test_x.append(images[test_idx])
        train_y.append(torch.full((len(train_idx),), label))
        test_y.append(torch.full((len(test_idx),), label))
    info = DataInfo(name, 1, image_size, len(categories), tuple(categories), binary=True)
    return DataBundle(
        train=ImageDataset(fit_to_size(torch.cat(train_x), image_size, "pad"), torch.cat(train_y)),
        test=ImageDataset(fit_to_size(torch.cat(test_x), image_size, "pad"), torch.cat(test_y)),
        info=info,
    )


# -- the subset inside the package ------------------------------------------------------------
EMBEDDED = Path(__file__).parent / "embedded" / "quickdraw_subset.npz"
FULL_DATA = "data=quickdraw downloads the official files (100k-300k doodles per category, 345 categories)"


@cache
def embedded_bitmaps() -> dict[str, np.ndarray]:
    """The embedded subset's drawings by official category name (made by ``zoo.data.embed_quickdraw``)."""
    try:
        with np.load(EMBEDDED, allow_pickle=False) as archive:
            return {resolve_category(key): load_checked(archive[key], key) for key in archive.files}
    except (OSError, ValueError) as e:
        raise ZooError(
            f"the embedded Quick, Draw! subset {EMBEDDED} cannot be read ({e}); restore it from the repository "
            f"(git checkout -- {EMBEDDED.name}) or use {FULL_DATA}"
        ) from None


def load_checked(array: np.ndarray, key: str) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] != PIXELS or array.dtype != np.uint8:
        raise ValueError(f"its '{key}' holds {array.shape} {array.dtype}, not (N, 784) uint8")
    return array


@DATASETS.register("quickdraw_mini")
def quickdraw_mini(
    name: Name,
    categories: Annotated[list[str], Field(min_length=1)],
    max_per_category: Count | None = None,
    test_fraction: Fraction = 0.1,
    split_seed: Seed = 0,
    image_size: ImageSize = 32,
) -> DataBundle:
    """Ten Quick, Draw! categories, 2,000 doodles each, shipped in the package: real doodles with no
    download. It never stands in for ``data=quickdraw``; it is asked for by name (the default)."""
    stored = embedded_bitmaps()
    official = chosen_categories(categories)
    absent = [c for c in official if c not in stored]
    if absent:
        raise ZooError(
            f"the embedded subset has no {', '.join(repr(c) for c in absent)}: it holds "
            f"{', '.join(stored)}. For other categories use {FULL_DATA}"
        )
    log.info(
        "data: the embedded Quick, Draw! subset (%d categories x %s doodles, inside the package, no download); "
        "for the full data, %s",
        len(official),
        f"{min(len(stored[c]) for c in official):,}",
        FULL_DATA,
    )
    return split_categories(name, official, stored.__getitem__, max_per_category, test_fraction, split_seed, image_size)
