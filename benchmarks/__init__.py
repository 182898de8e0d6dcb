"""Benchmarks of the project against reference pipelines (not part of the test suite)."""
