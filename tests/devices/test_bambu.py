"""Bambu Lab local MQTT reports: merging partial reports, state mapping, ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from devices.bambu import BambuCodec
from devices.events import DecodeError, Ignored, MachineState, RunState
from tests.devices.json_strategies import json_values, objects_with, payloads

SERIAL = "01S00C123456789"
TOPIC = f"device/{SERIAL}/report"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

# OpenBambuAPI mqtt.md, real idle capture (trimmed).
IDLE_CAPTURE = (
    b'{"print": {"command": "push_status", "sequence_id": "2021", "gcode_state": "IDLE", '
    b'"gcode_file": "", "subtask_name": "", "mc_percent": 0, "mc_remaining_time": 0, '
    b'"print_error": 0, "nozzle_temper": 25.0, "bed_temper": 25.0}}'
)
# Derived running report and partial delta (vectors: Bambu).
RUNNING = (
    b'{"print":{"command":"push_status","sequence_id":"2100","gcode_state":"RUNNING",'
    b'"gcode_file":"/data/Metadata/plate_1.gcode","subtask_name":"bracket_v3","mc_percent":42,'
    b'"mc_remaining_time":37,"layer_num":57,"total_layer_num":180,"nozzle_temper":219.8,'
    b'"bed_temper":55.0,"print_error":0}}'
)
DELTA = b'{"print":{"command":"push_status","sequence_id":"2101","mc_percent":43}}'

REPORT_KEYS = [
    "command",
    "sequence_id",
    "gcode_state",
    "gcode_file",
    "subtask_name",
    "mc_percent",
    "print_error",
]


def report(sequence: int, **fields: object) -> bytes:
    """A push_status report with the given fields."""
    body = {"command": "push_status", "sequence_id": str(sequence), **fields}
    return json.dumps({"print": body}).encode()


def states(codec: BambuCodec, *messages: bytes) -> list[MachineState]:
    """Decode messages a second apart and keep the machine states."""
    out: list[MachineState] = []
    for index, payload in enumerate(messages):
        for result in codec.decode(TOPIC, payload, T0 + timedelta(seconds=index)):
            if isinstance(result, Ignored):
                continue
            assert isinstance(result, MachineState), result
            out.append(result)
    return out


def states_of(results: list) -> list[MachineState]:
    """The machine states among results, without the counted ignores."""
    return [r for r in results if isinstance(r, MachineState)]


def test_real_idle_capture_is_idle_without_job_or_progress():
    (event,) = states(BambuCodec("x1c", SERIAL), IDLE_CAPTURE)
    assert (event.machine, event.state, event.job, event.progress) == ("x1c", "idle", None, None)
    assert event.at == T0


def test_running_report_carries_job_and_progress():
    (event,) = states(BambuCodec("x1c", SERIAL), RUNNING)
    assert (event.state, event.job, event.progress) == (RunState.RUNNING, "bracket_v3", 42.0)


def test_partial_delta_is_merged_into_the_last_full_report():
    codec = BambuCodec("x1c", SERIAL)
    _, delta = states(codec, RUNNING, DELTA)
    assert (delta.state, delta.job, delta.progress) == (RunState.RUNNING, "bracket_v3", 43.0)


def test_delta_before_any_full_report_waits_for_pushall():
    assert BambuCodec("x1c", SERIAL).decode(TOPIC, DELTA, T0) == [
        Ignored(TOPIC, "awaiting_full_report")
    ]


def test_unchanged_report_emits_nothing():
    codec = BambuCodec("x1c", SERIAL)
    temperature_only = report(2102, nozzle_temper=220.1)
    assert len(states(codec, RUNNING, temperature_only)) == 1


def test_full_print_with_deltas_and_a_pause():
    codec = BambuCodec("x1c", SERIAL)
    timeline = states(
        codec,
        IDLE_CAPTURE,
        report(1, gcode_state="PREPARE", subtask_name="hinge", mc_percent=0),
        report(2, gcode_state="RUNNING"),
        report(3, mc_percent=10),
        report(4, nozzle_temper=219.0),
        report(5, mc_percent=35),
        report(6, gcode_state="PAUSE"),
        report(7, mc_percent=35, bed_temper=54.0),
        report(8, gcode_state="RUNNING"),
        report(9, mc_percent=100),
        report(10, gcode_state="FINISH"),
        report(11, gcode_state="IDLE", subtask_name="", gcode_file=""),
    )
    assert [(e.state.value, e.progress) for e in timeline] == [
        ("idle", None),
        ("running", 0.0),
        ("running", 0.0),
        ("running", 10.0),
        ("running", 35.0),
        ("paused", 35.0),
        ("running", 35.0),
        ("running", 100.0),
        ("finished", 100.0),
        ("idle", None),
    ]
    assert {e.job for e in timeline[1:-1]} == {"hinge"}


def test_idle_straight_after_running_is_an_interrupted_job():
    codec = BambuCodec("x1c", SERIAL)
    *_, ended = states(codec, RUNNING, report(2102, gcode_state="IDLE", subtask_name=""))
    assert (ended.state, ended.job) == (RunState.INTERRUPTED, "bracket_v3")


def test_idle_straight_after_pause_is_an_interrupted_job():
    codec = BambuCodec("x1c", SERIAL)
    ended = states(codec, RUNNING, report(1, gcode_state="PAUSE"), report(2, gcode_state="IDLE"))
    assert ended[-1].state is RunState.INTERRUPTED


def test_idle_after_finish_is_plain_idle():
    codec = BambuCodec("x1c", SERIAL)
    timeline = states(
        codec, RUNNING, report(1, gcode_state="FINISH"), report(2, gcode_state="IDLE")
    )
    assert [e.state for e in timeline] == [RunState.RUNNING, RunState.FINISHED, RunState.IDLE]


def test_failed_with_user_cancel_error_is_cancelled():
    codec = BambuCodec("x1c", SERIAL)
    ended = states(codec, RUNNING, report(1, gcode_state="FAILED", print_error=50348044))
    assert ended[-1].state is RunState.CANCELLED


def test_failed_with_cancel_error_sent_as_string_is_cancelled():
    codec = BambuCodec("x1c", SERIAL)
    ended = states(codec, RUNNING, report(1, gcode_state="FAILED", print_error="50348044"))
    assert ended[-1].state is RunState.CANCELLED


def test_failed_with_another_error_is_a_failure_keeping_the_job():
    codec = BambuCodec("x1c", SERIAL)
    ended = states(codec, RUNNING, report(1, gcode_state="FAILED", print_error=117473297))
    assert (ended[-1].state, ended[-1].job) == (RunState.FAILED, "bracket_v3")


def test_numbers_sent_as_strings_are_read():
    (event,) = states(BambuCodec("x1c", SERIAL), report(1, gcode_state="RUNNING", mc_percent="57"))
    assert event.progress == 57.0


def test_job_falls_back_to_the_gcode_file_name():
    payload = report(1, gcode_state="RUNNING", subtask_name="", gcode_file="/sdcard/cube.3mf")
    (event,) = states(BambuCodec("x1c", SERIAL), payload)
    assert event.job == "cube.3mf"


def test_lowercase_state_is_tolerated():
    (event,) = states(BambuCodec("x1c", SERIAL), report(1, gcode_state="pause"))
    assert event.state is RunState.PAUSED


def test_other_states_map_as_documented():
    def first(gcode_state: str) -> RunState:
        (event,) = states(BambuCodec("x1c", SERIAL), report(1, gcode_state=gcode_state))
        return event.state

    assert first("OFFLINE") is RunState.OFFLINE
    assert first("SLICING") is RunState.IDLE
    assert first("INIT") is RunState.IDLE
    assert first("UNKNOWN") is RunState.UNKNOWN
    assert first("SOMETHING_NEW") is RunState.UNKNOWN


def test_pushall_request_asks_for_a_full_report():
    topic, payload = BambuCodec("x1c", SERIAL).pushall_request()
    assert topic == f"device/{SERIAL}/request"
    assert json.loads(payload) == {"pushing": {"sequence_id": "0", "command": "pushall"}}


def test_own_request_topic_is_ignored_and_foreign_topic_is_an_error():
    codec = BambuCodec("x1c", SERIAL)
    request = f"device/{SERIAL}/request"
    assert codec.decode(request, b"{}", T0) == [Ignored(request, "own_request")]
    (error,) = codec.decode("device/OTHER/report", RUNNING, T0)
    assert isinstance(error, DecodeError)


def test_garbage_and_wrong_shapes_are_decode_errors():
    codec = BambuCodec("x1c", SERIAL)
    for payload in (b"\xff\xfe", b"{not json", b"[1, 2]", b'{"print": 5}'):
        (error,) = codec.decode(TOPIC, payload, T0)
        assert isinstance(error, DecodeError)
        assert error.raw == payload


def test_messages_without_job_state_are_counted_ignores():
    codec = BambuCodec("x1c", SERIAL)
    info = codec.decode(TOPIC, b'{"info": {"command": "get_version"}}', T0)
    reply = codec.decode(TOPIC, b'{"print": {"command": "gcode_line", "param": "G28"}}', T0)
    assert info == [Ignored(TOPIC, "no_print_report")]
    assert reply == [Ignored(TOPIC, "command_reply")]


def test_a_report_without_a_command_is_a_status_report():
    codec = BambuCodec("x1c", SERIAL)
    bare = {"print": {"sequence_id": "7", "gcode_state": "RUNNING", "subtask_name": "hinge"}}
    (event,) = codec.decode(TOPIC, json.dumps(bare).encode(), T0)
    assert isinstance(event, MachineState) and event.state is RunState.RUNNING
    assert event.job == "hinge"


def test_unchanged_reports_are_counted_ignores():
    codec = BambuCodec("x1c", SERIAL)
    states(codec, IDLE_CAPTURE)
    assert codec.decode(TOPIC, IDLE_CAPTURE, T0) == [Ignored(TOPIC, "unchanged")]


def test_redelivered_report_keeps_its_fingerprint_on_another_consumer():
    (first,) = states(BambuCodec("x1c", SERIAL), RUNNING)
    (again,) = BambuCodec("x1c", SERIAL).decode(TOPIC, RUNNING, T0 + timedelta(minutes=3))
    assert isinstance(again, MachineState)
    assert again.fingerprint == first.fingerprint is not None
    assert again.event_id != first.event_id  # a report without a time: new at every arrival


def test_restarted_sequence_with_other_content_gets_another_id():
    first = states(BambuCodec("x1c", SERIAL), report(1, gcode_state="RUNNING", mc_percent=5))
    second = states(BambuCodec("x1c", SERIAL), report(1, gcode_state="RUNNING", mc_percent=6))
    assert first[0].event_id != second[0].event_id


def test_invalid_serial_is_a_config_error():
    for serial in ("", "a/b", "+", "#"):
        try:
            BambuCodec("x1c", serial)
        except ValueError:
            continue
        raise AssertionError(f"serial {serial!r} was accepted")


shaped = st.fixed_dictionaries(
    {"print": objects_with(REPORT_KEYS)}, optional={"info": json_values}
) | objects_with(["print"])


@given(st.lists(payloads(shaped), max_size=8))
def test_no_input_on_the_report_topic_raises(messages):
    codec = BambuCodec("x1c", SERIAL)
    for payload in messages:
        results = codec.decode(TOPIC, payload, T0)
        assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "gcode_state": st.sampled_from(["IDLE", "RUNNING", "PAUSE", "FINISH", "FAILED"]),
                "mc_percent": st.integers(0, 100),
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_redelivered_messages_get_the_same_fingerprints(fields):
    messages = [report(index, **f) for index, f in enumerate(fields)]
    first, again = BambuCodec("x1c", SERIAL), BambuCodec("x1c", SERIAL)
    ids_first = [e.fingerprint for m in messages for e in states_of(first.decode(TOPIC, m, T0))]
    later = T0 + timedelta(hours=1)
    ids_again = [e.fingerprint for m in messages for e in states_of(again.decode(TOPIC, m, later))]
    assert ids_first and ids_first == ids_again and None not in ids_first
