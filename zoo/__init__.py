"""genzoo: generative-model families behind one trainer, trained and compared on the same data.

``zoo.load(path, device="cpu")`` returns a trained model from a run folder, a checkpoint or an
exported folder (``python -m zoo.export``), ready to sample, without its data set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "load"]

if TYPE_CHECKING:
    from zoo.trained import load


def __getattr__(name: str) -> Any:
    """``zoo.load`` is imported on first use, so ``import zoo.<module>`` stays light and acyclic."""
    if name == "load":
        from zoo.trained import load

        return load
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
