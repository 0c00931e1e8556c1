"""The lab's own MQTT topics: strict decoding, derived ids, and encoders that round-trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import BadgeScan, DecodeError, MachineState, RunState
from devices.ids import derive_event_id
from devices.labv1 import LabV1Codec, encode_badge, encode_machine_state
from tests.devices.streams import AT

CODEC = LabV1Codec()
LATER = AT + timedelta(minutes=5)


def decode_one(topic: str, payload: object, received_at: datetime = LATER):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    [result] = CODEC.decode(topic, raw, received_at)
    return result


# --- badges ---------------------------------------------------------------------------------


def test_badge_message_with_id_and_time_decodes_as_sent():
    result = decode_one(
        "lab/v1/badge/door", {"badge": "0012771493", "at": "2026-03-01T10:00:00Z", "id": "e-1"}
    )
    assert result == BadgeScan("door", "0012771493", at=AT, event_id="e-1")


@pytest.mark.parametrize(
    ("badge", "canonical"),
    [("0F00C2E0A5", "0012771493"), ("12771493", "0012771493"), ("04:a1:b2:c3", "uid:04A1B2C3")],
)
def test_badge_is_normalised(badge, canonical):
    assert decode_one("lab/v1/badge/door", {"badge": badge}).badge == canonical


@pytest.mark.parametrize("badge", ["hello", "", "4294967296", "0F00C2E0A"])
def test_badge_that_cannot_be_normalised_is_a_decode_error(badge):
    assert isinstance(decode_one("lab/v1/badge/door", {"badge": badge}), DecodeError)


def test_message_without_time_takes_the_receive_time():
    assert decode_one("lab/v1/badge/door", {"badge": "0012771493"}).at == LATER


def test_zone_less_time_takes_the_receive_time():
    result = decode_one("lab/v1/badge/door", {"badge": "0012771493", "at": "2026-03-01T10:00:00"})
    assert result.at == LATER


def test_time_with_an_offset_is_converted_to_utc():
    result = decode_one("lab/v1/badge/door", {"badge": "1", "at": "2026-03-01T12:00:00+02:00"})
    assert result.at == AT and result.at.utcoffset() == timedelta(0)


def test_message_without_id_gets_one_from_topic_time_and_payload():
    payload = b'{"badge":"0012771493","at":"2026-03-01T10:00:00Z"}'
    result = decode_one("lab/v1/badge/door", payload)
    assert result.event_id == derive_event_id("lab/v1/badge/door", "2026-03-01T10:00:00Z", payload)


def test_two_distinct_scans_without_ids_get_distinct_ids():
    first = decode_one("lab/v1/badge/door", {"badge": "1", "at": "2026-03-01T10:00:00Z"})
    second = decode_one("lab/v1/badge/door", {"badge": "1", "at": "2026-03-01T10:00:05Z"})
    other_reader = decode_one("lab/v1/badge/lathe", {"badge": "1", "at": "2026-03-01T10:00:00Z"})
    assert len({first.event_id, second.event_id, other_reader.event_id}) == 3


# --- machine states -------------------------------------------------------------------------


def test_machine_state_with_every_field_decodes():
    payload = {
        "state": "finished",
        "at": "2026-03-01T10:00:00Z",
        "job": "bracket_v3",
        "progress": 100,
        "id": "run-7-end",
        "power_w": 12.5,
        "energy_wh": 431.0,
        "material": 1250.5,
        "reported_busy_s": 3723,
    }
    assert decode_one("lab/v1/machine/mk3/state", payload) == MachineState(
        "mk3",
        RunState.FINISHED,
        AT,
        "run-7-end",
        job="bracket_v3",
        progress=100.0,
        power_w=12.5,
        energy_wh=431.0,
        material=1250.5,
        reported_busy_s=3723.0,
    )


@pytest.mark.parametrize(
    "state", ["running", "paused", "idle", "finished", "failed", "cancelled", "offline"]
)
def test_every_contract_state_is_accepted(state):
    assert decode_one("lab/v1/machine/m/state", {"state": state}).state == RunState(state)


def test_null_optional_fields_count_as_absent():
    result = decode_one("lab/v1/machine/m/state", {"state": "idle", "job": None, "id": None})
    assert isinstance(result, MachineState) and result.job is None and len(result.event_id) == 32


@pytest.mark.parametrize(
    "payload",
    [
        {"state": "RUNNING"},
        {"state": "unknown"},
        {"state": "printing"},
        {"state": ["running"]},
        {"state": {"running": 1}},
        {},
        {"state": "running", "progress": 101},
        {"state": "running", "progress": -1},
        {"state": "running", "progress": "50"},
        {"state": "running", "progress": True},
        {"state": "running", "energy_wh": -1},
        {"state": "running", "material": -0.5},
        {"state": "finished", "reported_busy_s": -3},
        {"state": "running", "power_w": 10**400},
        {"state": "running", "job": 7},
        {"state": "running", "id": 7},
        {"state": "running", "id": ""},
        {"state": "running", "at": 1700000000},
        {"state": "running", "at": "yesterday"},
        {"state": "running", "at": "2026-02-30T10:00:00Z"},
        {"state": "running", "at": "9999-12-31T23:59:59-23:59"},
        {"state": "running", "operator": "ann"},
        {"state": "running", "job": "x" * 5000},
        {"state": "running", "job": "\ud800"},
    ],
)
def test_machine_state_breaking_the_contract_is_a_decode_error(payload):
    assert isinstance(decode_one("lab/v1/machine/m/state", payload), DecodeError)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"state": "running", "state": "idle"}',
        b'{"state": "running", "progress": NaN}',
        b'{"state": "running", "power_w": Infinity}',
        b'["running"]',
        b'"running"',
        b"",
        b"\xff\xfe",
        b"{" * 100_000,
        b"[" * 15_000,
        b'{"state": "running", "job": "' + b"x" * 20_000 + b'"}',
    ],
)
def test_payload_that_is_not_one_strict_json_object_is_a_decode_error(payload):
    result = decode_one("lab/v1/machine/m/state", payload)
    assert isinstance(result, DecodeError) and len(result.raw) <= 1024


def test_unknown_key_in_a_badge_message_is_a_decode_error():
    assert isinstance(decode_one("lab/v1/badge/door", {"badge": "1", "reader": "x"}), DecodeError)


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "lab/v1/badge",
        "lab/v1/badge/",
        "lab/v1/badge/a/b",
        "lab/v1/badge/+",
        "lab/v1/machine/m",
        "lab/v1/machine/m/status",
        "lab/v1/machine//state",
        "lab/v1/machine/#/state",
        "lab/v2/badge/door",
        "octoPrint/event/PrintDone",
        "lab/v1/badge/\ud800",
    ],
)
def test_topic_outside_lab_v1_badge_and_state_is_a_decode_error(topic):
    result = decode_one(topic, {"badge": "1", "state": "idle"})
    assert isinstance(result, DecodeError) and result.source == topic


# --- encoders -------------------------------------------------------------------------------


def test_encoded_badge_carries_id_and_time():
    scan = BadgeScan("door", "0012771493", at=AT, event_id="abc")
    topic, payload = encode_badge(scan)
    assert topic == "lab/v1/badge/door"
    assert json.loads(payload) == {
        "badge": "0012771493",
        "at": "2026-03-01T10:00:00+00:00",
        "id": "abc",
    }


def test_encoded_state_leaves_out_absent_fields():
    event = MachineState("mk3", RunState.RUNNING, AT, "abc", progress=42.0)
    topic, payload = encode_machine_state(event)
    assert topic == "lab/v1/machine/mk3/state"
    assert json.loads(payload) == {
        "state": "running",
        "at": "2026-03-01T10:00:00+00:00",
        "id": "abc",
        "progress": 42.0,
    }


def test_encoder_writes_a_non_utc_time_in_utc():
    event = MachineState("m", RunState.IDLE, AT.astimezone(timezone(timedelta(hours=2))), "i")
    topic, payload = encode_machine_state(event)
    assert json.loads(payload)["at"] == "2026-03-01T10:00:00+00:00"
    assert CODEC.decode(topic, payload, LATER) == [event]


@pytest.mark.parametrize(
    "event",
    [
        MachineState("m", RunState.UNKNOWN, AT, "i"),
        MachineState("a/b", RunState.IDLE, AT, "i"),
        MachineState("m", RunState.IDLE, AT, ""),
        MachineState("m", RunState.RUNNING, AT, "i", progress=float("nan")),
    ],
)
def test_state_the_contract_cannot_carry_is_refused_by_the_encoder(event):
    with pytest.raises(ValueError):
        encode_machine_state(event)


def test_badge_not_in_canonical_form_is_refused_by_the_encoder():
    with pytest.raises(ValueError):
        encode_badge(BadgeScan("door", "0F00C2E0A5", at=AT, event_id="i"))


names = st.text(
    alphabet=st.characters(blacklist_characters="/+#\x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=20,
)
ids = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
badges = st.integers(0, 2**32 - 1).map(lambda n: f"{n:010d}") | st.sampled_from(
    [4, 7, 8, 10]
).flatmap(lambda size: st.binary(min_size=size, max_size=size)).map(
    lambda uid: "uid:" + uid.hex().upper()
)


def finite(low: float | None = None, high: float | None = None):
    return st.none() | st.floats(low, high, allow_nan=False, allow_infinity=False)


machine_states = st.builds(
    MachineState,
    machine=names,
    state=st.sampled_from([s for s in RunState if s is not RunState.UNKNOWN]),
    at=times,
    event_id=ids,
    job=st.none() | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60),
    progress=finite(0, 100),
    power_w=finite(),
    energy_wh=finite(0),
    material=finite(0),
    reported_busy_s=finite(0),
)
badge_scans = st.builds(BadgeScan, reader=names, badge=badges, at=times, event_id=ids)


@given(badge_scans, times)
def test_decoding_an_encoded_badge_scan_gives_it_back(scan, received_at):
    assert CODEC.decode(*encode_badge(scan), received_at) == [scan]


@given(machine_states, times)
def test_decoding_an_encoded_machine_state_gives_it_back(event, received_at):
    assert CODEC.decode(*encode_machine_state(event), received_at) == [event]


# --- arbitrary input and redelivery ---------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["running", "0012771493", "2026-03-01T10:00:00Z", "uid:04A1B2C3"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["badge", "state", "at", "id", "job", "progress", "power_w"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
topics = st.sampled_from(
    ["lab/v1/badge/door", "lab/v1/machine/mk3/state", "lab/v1/machine/mk3", "lab/v1/badge/+"]
) | st.text(max_size=40)


@given(topics, st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_topics_and_payloads_never_raise(topic, payload):
    results = CODEC.decode(topic, payload, LATER)
    assert len(results) == 1 and isinstance(results[0], BadgeScan | MachineState | DecodeError)


valid_without_id = st.one_of(
    st.tuples(
        st.just("lab/v1/badge/door"),
        st.fixed_dictionaries({"badge": badges}, optional={"at": times.map(datetime.isoformat)}),
    ),
    st.tuples(
        st.just("lab/v1/machine/mk3/state"),
        st.fixed_dictionaries(
            {"state": st.sampled_from(["running", "idle", "finished"])},
            optional={"at": times.map(datetime.isoformat), "progress": finite(0, 100)},
        ),
    ),
)


@given(valid_without_id, times, times)
def test_redelivered_message_keeps_its_event_id(message, first_at, second_at):
    """With an `at`, the id; without one, the fingerprint (a redelivery within the window)."""
    topic, fields = message
    payload = json.dumps(fields).encode()
    [first] = CODEC.decode(topic, payload, first_at)
    [again] = CODEC.decode(topic, payload, second_at)
    assert not isinstance(first, DecodeError) and not isinstance(again, DecodeError)
    if "at" in fields:
        assert again.event_id == first.event_id and first.fingerprint is None
    else:
        assert again.fingerprint == first.fingerprint is not None
