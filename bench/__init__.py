"""Benchmarks that print figures (never assert timings). Run them from the repository root,
e.g. `.venv/bin/python -m bench.upload` and `.venv/bin/python -m bench.browse`."""
