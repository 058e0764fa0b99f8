"""``zoo.memory``: freed memory kept for the next pass of a loop over large batches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Allocates, frees and allocates again a 256 MB block (writing every page), and prints whether the
# setting applied and how many page faults the second allocation cost.
PROBE = """
import resource, sys
from zoo.memory import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = b"\\x01" * (256 << 20)
del block
before = faults()
block = b"\\x01" * (256 << 20)
print(applied, faults() - before)
"""


def second_allocation(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt; elsewhere the call changes nothing")
def test_a_freed_block_is_reused_instead_of_faulted_in_again():
    """By default glibc returns a freed 256 MB block to the kernel, and allocating it again faults in
    all of its 65,536 pages; after ``reuse_freed_memory()`` the process keeps it and faults in none."""
    applied, reused = second_allocation("reuse")
    if applied != "True":
        pytest.skip("not glibc: reuse_freed_memory() reports that it did not apply")
    _, default = second_allocation("default")
    assert default > 60_000
    assert reused < 1_000
