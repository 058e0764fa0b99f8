"""Downloading data files so that a broken transfer never leaves a file that looks valid.

The bytes go to ``<dest>.part``; only a complete transfer (all ``Content-Length`` bytes, synced
to disk) is renamed to ``<dest>``. Anything else removes the partial file and raises a
``ZooError`` naming the URL, the destination and how to get the file by hand.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from zoo.errors import ZooError
from zoo.files import discard

CHUNK = 1 << 20
# a transfer slower than this on average after the grace period is given up (a server that trickles
# one byte every few seconds would otherwise keep the command waiting forever: the timeout is per read)
MIN_BYTES_PER_S = 10_000
GRACE_S = 30.0


class TooSlowError(Exception):
    pass


def download_file(url: str, dest: Path, timeout: float = 60.0, progress: bool = True) -> Path:
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    how = f"Download it by hand from {url} to {dest}, or point data.root (or ZOO_DATA_DIR) at a folder that has it."
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ZooError(f"cannot create the data folder {dest.parent}: {e.strerror}. {how}") from None
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            with (
                open(part, "wb") as out,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}", disable=not progress
                ) as bar,
            ):
                started = time.monotonic()
                while chunk := response.read1(CHUNK):  # whatever has arrived, not a full chunk
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    elapsed = time.monotonic() - started
                    if elapsed > GRACE_S and received / elapsed < MIN_BYTES_PER_S:
                        raise TooSlowError(f"{received / elapsed:.0f} bytes/s after {elapsed:.0f} s")
                out.flush()
                os.fsync(out.fileno())
        if total is not None and received != total:
            raise http.client.IncompleteRead(b"", total - received)
    except TooSlowError as e:
        discard(part)
        raise ZooError(
            f"the download of {url} is too slow to finish ({e}, below {MIN_BYTES_PER_S} bytes/s); nothing "
            f"was saved. Rerun on a better connection. {how}"
        ) from None
    except http.client.IncompleteRead as e:
        discard(part)
        expected = received + (e.expected or 0)
        raise ZooError(
            f"the download of {url} was cut off after {received} of {expected} bytes; nothing was saved. "
            f"Rerun to try again. {how}"
        ) from None
    except urllib.error.HTTPError as e:
        discard(part)
        raise ZooError(f"could not download {url}: HTTP {e.code} {e.reason}. {how}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        discard(part)
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise ZooError(f"could not download {url} to {dest}: {reason}. {how}") from None
    os.replace(part, dest)
    return dest
