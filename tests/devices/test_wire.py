"""Tolerant JSON value readers shared by the MQTT codecs."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given

from devices._wire import (
    availability_event_ids,
    load_object,
    message_event_ids,
    require_topic_part,
    to_float,
    to_int,
    to_percent,
)
from devices.events import DecodeError
from tests.devices.json_strategies import json_values

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_numbers_as_strings_are_read_and_booleans_are_not_numbers():
    assert (to_float("42.5"), to_float(" 7 "), to_float(3)) == (42.5, 7.0, 3.0)
    assert (to_float(True), to_float("NaN"), to_float("1e999"), to_float([1])) == (None,) * 4
    assert (to_int("50348044"), to_int("0x0300400C"), to_int(12.0), to_int("07")) == (
        50348044,
        50348044,
        12,
        7,
    )
    assert (to_int(1.5), to_int(False), to_int("x" * 40)) == (None, None, None)


def test_percent_outside_0_to_100_is_dropped():
    assert (to_percent(0.42, scale=100.0), to_percent(101), to_percent(-1)) == (42.0, None, None)


def test_load_object_says_why_a_payload_is_not_an_object():
    reasons = [load_object("t", p) for p in (b"\xff", b"{", b"[]", b"1" * 5000)]
    assert all(isinstance(r, DecodeError) for r in reasons)
    assert load_object("t", b'{"a": 1}') == {"a": 1}


def test_a_message_with_a_device_time_keeps_its_id_whenever_it_arrives():
    later = T0 + timedelta(hours=1)
    first = message_event_ids("t", "1", b"p", T0)
    assert first == message_event_ids("t", "1", b"p", later) and first[1] is None
    assert first != message_event_ids("t", "2", b"p", T0)


def test_a_timeless_message_is_new_at_every_arrival_but_keeps_its_fingerprint():
    later = T0 + timedelta(minutes=2)
    (first, print1), (second, print2) = (message_event_ids("t", None, b"p", t) for t in (T0, later))
    assert first != second and print1 == print2 is not None


def test_availability_ids_differ_between_two_drops_with_one_fingerprint():
    later = T0 + timedelta(hours=1)
    early, late = (
        availability_event_ids("t", b"Offline", T0),
        availability_event_ids("t", b"Offline", later),
    )
    assert early[0] != late[0] and early[1] == late[1]


@pytest.mark.parametrize("value", ["", " a", "a/+", "#", "a//b", "/a", "a/", "x\x00"])
def test_bad_topic_parts_are_config_errors(value):
    with pytest.raises(ValueError):
        require_topic_part("address", value, allow_slash=True)


@given(json_values)
def test_readers_never_raise_and_floats_are_finite(value):
    number = to_float(value)
    assert number is None or math.isfinite(number)
    to_int(value)
    to_percent(value)
