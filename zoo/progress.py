"""Progress for every phase that can take more than a few seconds (the final evaluation, sampling
and scoring in ``compare.py``, feature networks, the Inception pass, decoding a data set): a bar
when the command's stderr is a terminal, otherwise a log line at least every ``LOG_EVERY_S``
seconds (a run under ``nohup``, a cluster job, CI), so that no phase is silent for long."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import TypeVar

from tqdm import tqdm

LOG_EVERY_S = 30.0
log = logging.getLogger("zoo")
T = TypeVar("T")


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """``with Progress(total, "evaluating", "images", bar) as p: ... p.update(n)``: a bar when
    ``bar``, else a log line (done, elapsed, about how long is left) every ``LOG_EVERY_S`` seconds."""

    def __init__(self, total: int, what: str, unit: str = "images", bar: bool = False):
        self.total, self.what, self.unit, self.done = total, what, unit, 0
        self.bar = tqdm(total=total, desc=what, unit=unit, disable=not bar, leave=False)
        self.logs = not bar
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        self.bar.update(n)
        now = time.monotonic()
        if self.logs and now - self.last >= LOG_EVERY_S and self.done < self.total:
            self.last = now
            elapsed = now - self.start
            left = elapsed * (self.total - self.done) / max(self.done, 1)
            log.info(
                "%s: %d/%d %s in %s, about %s left",
                self.what,
                self.done,
                self.total,
                self.unit,
                duration(elapsed),
                duration(left),
            )

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # before an error propagates, so that the error is the last line printed


def tracked(items: Sequence[T], what: str, unit: str = "images", bar: bool = False) -> Iterator[T]:
    """``items`` one by one, with ``Progress`` over them."""
    with Progress(len(items), what, unit, bar) as progress:
        for item in items:
            yield item
            progress.update(1)
