"""Console logging for the commands: ``[genzoo] ...`` lines on stderr, from rank 0 only under torchrun."""

from __future__ import annotations

import logging
import sys

from zoo import distributed


def setup_logging() -> None:
    root = logging.getLogger("zoo")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[genzoo] %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO if distributed.is_main() else logging.WARNING)
