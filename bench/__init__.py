"""Benchmarks that print comparison tables; run them all with ``python -m bench``."""
