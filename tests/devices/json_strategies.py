"""Hypothesis strategies for arbitrary wire input, shared by the codec tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "0", "42", "-1", "1e999", "NaN", "0x0300400C", "true", "running"])
)

json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def objects_with(keys: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """JSON objects whose keys are drawn mostly from `keys`, with arbitrary values."""
    key = st.sampled_from(keys) | st.text(max_size=8)
    return st.dictionaries(key, json_values, max_size=len(keys) + 2)


def encoded(values: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    """JSON text of the values, as a payload."""
    return values.map(lambda value: json.dumps(value).encode())


def payloads(shaped: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, arbitrary JSON, or JSON shaped like the codec's messages."""
    return st.binary(max_size=64) | encoded(json_values) | encoded(shaped)


START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def receive_times(count: int, step_s: float = 10.0) -> list[datetime]:
    """Evenly spaced receive times, as a broker consumer would see them."""
    return [START + timedelta(seconds=step_s * index) for index in range(count)]
