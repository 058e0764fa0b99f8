"""Files written atomically, and exclusively created folders.

Every file genzoo writes goes to a temporary name of its own in the same folder (the writer's
process id and a random token, so two writers never share one), is flushed, then renamed over
the target: a crash, ``kill -9`` or a full disk mid-write leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from zoo.errors import ZooError

TMP_SUFFIX = ".tmp"
_TEMPORARY = re.compile(r"\.\d+-[0-9a-f]{8}\.tmp(\.\w+)?$")  # what temporary_name makes


def discard(path: Path) -> None:
    """Remove a partial file while handling another error: never raises, so the error being
    handled (disk full, a folder that is a file, no network) is the one the user sees."""
    with contextlib.suppress(OSError):  # the folder is gone, not a folder, or read-only
        Path(path).unlink(missing_ok=True)


def temporary_name(path: Path) -> Path:
    """``<stem>.<pid>-<token>.tmp<suffix>`` beside ``path`` (the real suffix kept last, so that
    writers that pick a format by file name still do)."""
    return path.with_name(f"{path.stem}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}{path.suffix}")


def atomic_write(path: Path, write: Callable[[Path], None], what: str, fix: str, durable: bool = False) -> Path:
    """Run ``write(tmp)`` then rename ``tmp`` over ``path``. An ``OSError`` (disk full, read-only
    folder) becomes one ``ZooError`` naming ``what`` and ``fix``; the partial file is removed."""
    path = Path(path)
    tmp = temporary_name(path)
    blocked = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if blocked is not None and not blocked.is_dir():
        raise ZooError(f"could not write {what} {path}: {blocked} is a file, not a folder; write it somewhere else")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        discard(tmp)
        raise ZooError(f"could not write {what} {path}: {e.strerror or e}; {fix}") from None
    except BaseException:
        discard(tmp)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def atomic_write_text(path: Path, text: str, what: str = "file", fix: str = "free some space and rerun.") -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    return atomic_write(path, write, what, fix)


def write_with(path: Path, write: Callable[[IO[bytes]], None], what: str, fix: str, durable: bool = False) -> Path:
    """``atomic_write`` for writers that take an open binary file (``torch.save``)."""

    def to_file(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()

    return atomic_write(path, to_file, what, fix, durable)


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files left by a writer that was killed (call only while holding the
    folder's lock, so that no live writer owns them); returns how many."""
    removed = 0
    for tmp in Path(folder).rglob("*"):
        if tmp.is_file() and _TEMPORARY.search(tmp.name):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def exclusive_dir(parent: Path, stamp: str | None = None, what: str = "folder") -> Path:
    """A new folder ``parent/<stamp>`` (``-1``, ``-2``, ... when taken), created by this process
    alone: two processes started in the same second get two folders."""
    stamp = stamp or time.strftime("%Y-%m-%d_%H-%M-%S")
    try:
        Path(parent).mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            candidate = Path(parent) / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as e:
        raise ZooError(
            f"cannot create a {what} under {parent}: {e.strerror or e}. Make it writable, free some space, "
            "or point runs_dir somewhere else."
        ) from None
    raise ZooError(f"cannot create a new {what} under {parent}: 1000 names for {stamp} are taken")
