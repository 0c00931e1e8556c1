"""Helpers for feeding stream codecs the same bytes split into reads in different ways."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import strategies as st

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

cut_points = st.lists(st.integers(min_value=0, max_value=4096), max_size=24)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length), as successive reads."""
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


def feed_chunks(codec, chunks: list[bytes], at: datetime = AT) -> list:
    """Everything a stream codec returns for the reads, all received at `at`."""
    results = []
    for chunk in chunks:
        results.extend(codec.feed(chunk, at))
    return results


def bytewise(data: bytes) -> list[bytes]:
    """One read per byte, the worst splitting a serial port can produce."""
    return [data[i : i + 1] for i in range(len(data))]
