"""OctoPrint-MQTT plugin topics: print lifecycle events, progress and the LWT."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from devices.events import DecodeError, Ignored, MachineState, RunState
from devices.octoprint import OctoPrintCodec
from tests.devices.ignores import only_ignores
from tests.devices.json_strategies import objects_with, payloads

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

# OctoPrint-MQTT README.md examples.
STARTED = (
    b'{"_timestamp": 1517190629, "_event": "PrintStarted", "origin": "local", '
    b'"file": "/home/pi/.octoprint/uploads/case_bp_3.6.v1.0.gco", '
    b'"filename": "case_bp_3.6.v1.0.gco"}'
)
PROGRESS = b'{"_timestamp": 1517190629, "progress": 23, "location": "local", "path": "test.gco"}'
STARTED_AT = datetime(2018, 1, 29, 1, 50, 29, tzinfo=UTC)


def event(kind: str, stamp: int, **fields: object) -> tuple[str, bytes]:
    """An event message as the plugin publishes it."""
    body = {"_timestamp": stamp, "_event": kind, **fields}
    return f"octoPrint/event/{kind}", json.dumps(body).encode()


def progress(stamp: int, percent: object) -> tuple[str, bytes]:
    """A progress message as the plugin publishes it."""
    body = {"_timestamp": stamp, "progress": percent, "location": "local", "path": "a.gco"}
    return "octoPrint/progress/printing", json.dumps(body).encode()


def run(codec: OctoPrintCodec, *messages: tuple[str, bytes]) -> list[MachineState]:
    """Decode messages a second apart, all of which must decode cleanly."""
    out: list[MachineState] = []
    for index, (topic, payload) in enumerate(messages):
        for result in codec.decode(topic, payload, T0 + timedelta(seconds=index)):
            if isinstance(result, Ignored):
                continue
            assert isinstance(result, MachineState), result
            out.append(result)
    return out


def test_print_started_vector_is_running_with_the_file_at_its_timestamp():
    (started,) = run(OctoPrintCodec("mk3"), ("octoPrint/event/PrintStarted", STARTED))
    assert (started.machine, started.state, started.job) == (
        "mk3",
        RunState.RUNNING,
        "case_bp_3.6.v1.0.gco",
    )
    assert started.at == STARTED_AT


def test_progress_vector_is_read_while_printing():
    codec = OctoPrintCodec("mk3")
    _, step = run(
        codec, ("octoPrint/event/PrintStarted", STARTED), ("octoPrint/progress/printing", PROGRESS)
    )
    assert (step.state, step.progress, step.job) == (RunState.RUNNING, 23.0, "case_bp_3.6.v1.0.gco")


def test_retained_progress_alone_does_not_start_a_print():
    codec = OctoPrintCodec("mk3")
    assert only_ignores(codec.decode("octoPrint/progress/printing", PROGRESS, T0))


def test_print_that_fails():
    codec = OctoPrintCodec("mk3")
    timeline = run(
        codec,
        ("octoPrint/mqtt", b"connected"),
        event("PrintStarted", 1709283600, name="gear.gcode", path="parts/gear.gcode"),
        progress(1709283900, 10),
        progress(1709284500, 23),
        event("PrintFailed", 1709284800, name="gear.gcode", time=1200.5, reason="error"),
        progress(1709284801, 23),
    )
    assert [(e.state.value, e.progress) for e in timeline] == [
        ("unknown", None),
        ("running", None),
        ("running", 10.0),
        ("running", 23.0),
        ("failed", None),
    ]
    assert timeline[-1].reported_busy_s == 1200.5
    assert timeline[-1].job == "gear.gcode"
    assert timeline[-1].at == datetime.fromtimestamp(1709284800, tz=UTC)


def test_pause_resume_and_done_with_its_time():
    codec = OctoPrintCodec("mk3")
    timeline = run(
        codec,
        event("PrintStarted", 1709283600, name="gear.gcode"),
        event("PrintPaused", 1709283700, name="gear.gcode"),
        event("PrintResumed", 1709283800, name="gear.gcode"),
        event("PrintDone", 1709287200, name="gear.gcode", time=3500, owner="ana"),
    )
    assert [e.state for e in timeline] == [
        RunState.RUNNING,
        RunState.PAUSED,
        RunState.RUNNING,
        RunState.FINISHED,
    ]
    assert timeline[-1].reported_busy_s == 3500.0
    assert timeline[1].reported_busy_s is None


def test_failed_with_reason_cancelled_and_print_cancelled_are_both_cancelled():
    codec = OctoPrintCodec("mk3")
    timeline = run(
        codec,
        event("PrintStarted", 1709283600, name="gear.gcode"),
        event("PrintCancelled", 1709283700, name="gear.gcode", time=100),
        event("PrintFailed", 1709283700, name="gear.gcode", time=100, reason="cancelled"),
    )
    assert [e.state for e in timeline[1:]] == [RunState.CANCELLED, RunState.CANCELLED]
    assert timeline[1].event_id != timeline[2].event_id


def test_other_events_and_topics_are_ignored():
    codec = OctoPrintCodec("mk3")
    assert only_ignores(codec.decode("octoPrint/event/ZChange", b'{"new": 0.2}', T0))
    assert only_ignores(codec.decode("octoPrint/event/Connected", b"not even json", T0))
    assert only_ignores(codec.decode("octoPrint/temperature/tool0", b'{"actual": 210}', T0))


def test_topic_outside_the_base_is_an_error():
    (error,) = OctoPrintCodec("mk3").decode("octoprint/event/PrintStarted", STARTED, T0)
    assert isinstance(error, DecodeError)


def test_configured_base_topic_is_used():
    codec = OctoPrintCodec("mk3", base_topic="lab/octoprint")
    (started,) = codec.decode("lab/octoprint/event/PrintStarted", STARTED, T0)
    assert isinstance(started, MachineState) and started.state is RunState.RUNNING


def test_lwt_disconnected_is_offline_and_stops_trusting_progress():
    codec = OctoPrintCodec("mk3")
    run(codec, ("octoPrint/event/PrintStarted", STARTED))
    (offline,) = run(codec, ("octoPrint/mqtt", b"disconnected"))
    assert (offline.state, offline.at) == (RunState.OFFLINE, T0)
    assert only_ignores(codec.decode("octoPrint/progress/printing", PROGRESS, T0))


def test_unknown_lwt_word_and_bad_json_are_decode_errors():
    codec = OctoPrintCodec("mk3")
    for topic, payload in (
        ("octoPrint/mqtt", b"maybe"),
        ("octoPrint/mqtt", b"\xff"),
        ("octoPrint/event/PrintDone", b"{oops"),
        ("octoPrint/event/PrintDone", b'"a string"'),
        ("octoPrint/progress/printing", b"[]"),
    ):
        (error,) = codec.decode(topic, payload, T0)
        assert isinstance(error, DecodeError), (topic, payload)


def test_progress_out_of_range_is_a_decode_error():
    codec = OctoPrintCodec("mk3")
    run(codec, ("octoPrint/event/PrintStarted", STARTED))
    (error,) = codec.decode(*progress(1709283600, 250), T0)
    assert isinstance(error, DecodeError)


def test_missing_timestamp_falls_back_to_receive_time():
    (started,) = OctoPrintCodec("mk3").decode("octoPrint/event/PrintStarted", b"{}", T0)
    assert isinstance(started, MachineState) and started.at == T0


def test_redelivered_event_gets_the_same_id():
    codec = OctoPrintCodec("mk3")
    (first,) = codec.decode("octoPrint/event/PrintStarted", STARTED, T0)
    (again,) = codec.decode("octoPrint/event/PrintStarted", STARTED, T0 + timedelta(minutes=5))
    assert isinstance(first, MachineState) and isinstance(again, MachineState)
    assert first.event_id == again.event_id


def test_two_disconnects_at_different_times_get_different_ids():
    codec = OctoPrintCodec("mk3")
    (first,) = codec.decode("octoPrint/mqtt", b"disconnected", T0)
    (later,) = codec.decode("octoPrint/mqtt", b"disconnected", T0 + timedelta(days=1))
    assert isinstance(first, MachineState) and isinstance(later, MachineState)
    assert first.event_id != later.event_id


TOPICS = [
    "octoPrint/mqtt",
    "octoPrint/progress/printing",
    "octoPrint/temperature/bed",
    *(
        f"octoPrint/event/{name}"
        for name in (
            "PrintStarted",
            "PrintPaused",
            "PrintResumed",
            "PrintDone",
            "PrintFailed",
            "PrintCancelled",
            "Shutdown",
        )
    ),
]
KEYS = ["_timestamp", "_event", "name", "path", "file", "filename", "time", "reason", "progress"]


@given(st.lists(st.tuples(st.sampled_from(TOPICS), payloads(objects_with(KEYS))), max_size=10))
def test_no_input_on_its_topics_raises(messages):
    codec = OctoPrintCodec("mk3")
    for topic, payload in messages:
        results = codec.decode(topic, payload, T0)
        assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)


@given(
    st.sampled_from(TOPICS[3:-1]),
    st.integers(1_000_000_000, 2_000_000_000),
    st.text(max_size=10),
)
def test_redelivered_lifecycle_events_get_the_same_id(topic, stamp, name):
    payload = json.dumps({"_timestamp": stamp, "name": name}).encode()
    (first,) = OctoPrintCodec("mk3").decode(topic, payload, T0)
    (again,) = OctoPrintCodec("mk3").decode(topic, payload, T0 + timedelta(hours=2))
    assert isinstance(first, MachineState) and isinstance(again, MachineState)
    assert first.event_id == again.event_id
