"""Console logging for the commands: ``[genzoo] ...`` lines on stderr, from rank 0 only under torchrun."""

from __future__ import annotations

import logging
import sys

from zoo import distributed


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (not the one at set-up), so
    a command run in-process with its output captured logs into the capture."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler sets it; the property always answers sys.stderr
        pass


def setup_logging() -> None:
    root = logging.getLogger("zoo")
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("[genzoo] %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO if distributed.is_main() else logging.WARNING)
