"""Will it fit? The memory a run needs, estimated before it is allocated, against what the machine
has available, so that a too-wide model or a too-large decoded data set is one message naming the
figure and the fix instead of a MemoryError, or the kernel's OOM killer, minutes later."""

from __future__ import annotations

import os

from zoo.errors import ZooError


def available_bytes() -> int | None:
    """The memory this machine can give now (MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def check_fits(needed: int, what: str, fix: str) -> None:
    """Refuse ``needed`` bytes for ``what`` when the machine has fewer available."""
    available = available_bytes()
    if available is not None and needed > available:
        raise ZooError(
            f"{what} needs at least {size(needed)} of memory, and this machine has {size(available)} available; {fix}"
        )
