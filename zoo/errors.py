"""User-facing errors.

A ``ZooError`` is a problem the user can fix (a missing file, a bad option). Its message names
the problem and the fix; the command-line entry points print it as one line and exit non-zero
instead of showing a traceback.
"""


class ZooError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class NonFiniteLossError(ZooError):
    """A loss became NaN or infinite; training stops before the bad update is saved."""

    def __init__(self, term: str, value: float, step: int | None = None):
        self.term, self.value, self.step = term, value, step
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f" at step {self.step}" if self.step is not None else ""
        return f"loss term '{self.term}' is {self.value}{where}; training stopped"
