"""Metrics for ``compare.py``, one small module each, every one naming its source."""
