"""A value a row cannot have, with the reason: typed, so no code guesses from a string's prefix.

Written into ``metrics.csv`` / ``metrics.json`` as ``"n/a: <reason>"`` (the files' format), and
shown as ``n/a`` in the table with the reason listed under it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NA:
    reason: str

    def __str__(self) -> str:
        return f"n/a: {self.reason}"
