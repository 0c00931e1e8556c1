"""Shared pieces of the benchmarks: a private broker, a fresh database, peak memory."""
