"""Signals: SIGTERM takes Ctrl-C's path, and a checkpoint being written is never torn by a second one."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


def interrupt_on_sigterm() -> None:
    """SIGTERM (``kill``, a cluster pre-empting a job) takes Ctrl-C's path, a KeyboardInterrupt: a
    run saves its checkpoint and says "interrupted", a comparison removes the folder it left empty."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupts_held(noticed: Callable[[], None]) -> Iterator[None]:
    """Inside the block a Ctrl-C or SIGTERM calls ``noticed`` instead of interrupting: the
    checkpoint being written when a second signal arrives is finished, not torn. Outside the main
    thread (where Python delivers no signals) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, lambda signum, frame: noticed())
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
