"""One file per model family; each registers itself in ``zoo.registry.MODELS``."""
