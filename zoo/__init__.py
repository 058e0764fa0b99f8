"""genzoo: generative-model families behind one trainer, trained and compared on the same data."""

__version__ = "0.1.0"
