"""Signals: SIGTERM takes Ctrl-C's path, and a checkpoint being written is never torn by a second one."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

STARTING_INTERRUPTED = "interrupted while starting; nothing was written"


def quiet_while_starting() -> None:
    """Called first by ``train.py`` and ``compare.py``: until the command's own handling is in place
    (``interrupt_on_sigterm``; its imports alone take seconds), Ctrl-C or SIGTERM ends the process
    with one line and exit code 130 instead of a traceback from deep inside an import."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, _interrupted_while_starting)


def _interrupted_while_starting(signum, frame):
    sys.stderr.write(STARTING_INTERRUPTED + "\n")
    sys.stderr.flush()
    os._exit(130)  # nothing to clean up yet; a SystemExit could be caught inside an import


def interrupt_on_sigterm() -> None:
    """Ctrl-C is a KeyboardInterrupt again, and SIGTERM (``kill``, a cluster pre-empting a job)
    takes its path: a run saves its checkpoint and says "interrupted", a comparison removes the
    folder it left empty."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
