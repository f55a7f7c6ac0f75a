"""Benchmarks for threaded_async (SPEC §5): run ``uv run python -m benchmarks``."""
