"""``python -m zoo.data.embed_quickdraw --source <folder>``: make the Quick, Draw! subset that ships
inside the package (``zoo/data/embedded/quickdraw_subset.npz``), so that ``python train.py`` has real
doodles to train on with no download.

The source folder holds the official "numpy_bitmap" files (``<category>.npy``, ``(N, 784)`` uint8,
as ``data=quickdraw`` downloads them). From each of the ten default categories the script keeps
``--per-category`` drawings chosen by a seeded permutation of the file's rows (numpy's PCG64 seeded
with ``[seed, category index]``), in file order, and writes them, one array per category, into one
compressed ``.npz``. The same files and options give the same archive, byte for byte (the zip
entries carry a fixed date). Its provenance (source files' SHA-256, options) goes into
``quickdraw_subset.json`` beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from zoo.data.quickdraw import load_bitmaps, local_candidates, resolve_category
from zoo.errors import ZooError

EMBEDDED = Path(__file__).parent / "embedded"
ARCHIVE = EMBEDDED / "quickdraw_subset.npz"
CATEGORIES = ("airplane", "apple", "cat", "circle", "crown", "diamond", "fish", "smiley face", "square", "star")
FIXED_DATE = (2026, 12, 3, 0, 0, 0)  # zip entries' timestamp: the archive depends on its content only


def choose(bitmaps: np.ndarray, per_category: int, seed: int, label: int) -> np.ndarray:
    """``per_category`` rows of one category's file, picked by a seeded permutation, in file order."""
    if len(bitmaps) < per_category:
        raise ZooError(f"the file has {len(bitmaps)} drawings, fewer than --per-category {per_category}")
    rows = np.sort(np.random.default_rng([seed, label]).permutation(len(bitmaps))[:per_category])
    return np.ascontiguousarray(bitmaps[rows])


def write_archive(arrays: dict[str, np.ndarray], path: Path) -> None:
    """A compressed ``.npz`` whose bytes depend only on the arrays (``np.savez_compressed`` stamps
    each entry with the time of writing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_DATE), buffer.getvalue(), zipfile.ZIP_DEFLATED
            )
    tmp.replace(path)


def embed(source: Path, out: Path, per_category: int = 2000, seed: int = 0) -> dict:
    arrays, provenance = {}, {}
    for label, category in enumerate(CATEGORIES):
        path = next((p for p in local_candidates(source, resolve_category(category)) if p.is_file()), None)
        if path is None:
            raise ZooError(f"no file for '{category}' in {source} (looked for {category.replace(' ', '_')}.npy)")
        try:
            arrays[category.replace(" ", "_")] = choose(load_bitmaps(path), per_category, seed, label)
        except ZooError as e:
            raise ZooError(f"{path}: {e}") from None
        provenance[category] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    write_archive(arrays, out)
    meta = {"per_category": per_category, "seed": seed, "sources": provenance, "licence": "CC BY 4.0, Google"}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m zoo.data.embed_quickdraw")
    parser.add_argument("--source", required=True, type=Path, help="a folder of official <category>.npy files")
    parser.add_argument("--out", type=Path, default=ARCHIVE)
    parser.add_argument("--per-category", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        embed(args.source, args.out, args.per_category, args.seed)
    except ZooError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
