"""Moonraker MQTT status: merged print_stats, Klipper's own durations, availability."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from devices.events import DecodeError, Ignored, MachineState, RunState
from devices.moonraker import MoonrakerCodec
from tests.devices.ignores import only_ignores, without_ignores
from tests.devices.json_strategies import json_values, objects_with, payloads

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
STATUS = "voron1/klipper/status"
SERVER = "voron1/moonraker/status"

# Derived vector (moonraker docs/printer_objects.md, docs/configuration.md).
COMPLETE = (
    b'{"eventtime": 1234.56, "status": {"print_stats": {"state": "complete", '
    b'"print_duration": 3601.2, "total_duration": 3720.9, "filename": "cube.gcode"}}}'
)
# print_stats as documented in printer_objects.md.
STANDBY = {
    "filename": "",
    "total_duration": 0.0,
    "print_duration": 0.0,
    "filament_used": 0.0,
    "state": "standby",
    "message": "",
    "info": {"total_layer": None, "current_layer": None},
}


def status(eventtime: float, **objects: object) -> tuple[str, bytes]:
    """A klipper/status message carrying the given objects."""
    return STATUS, json.dumps({"eventtime": eventtime, "status": objects}).encode()


def run(codec: MoonrakerCodec, *messages: tuple[str, bytes]) -> list[MachineState]:
    """Decode messages ten seconds apart, all of which must decode cleanly."""
    out: list[MachineState] = []
    for index, (topic, payload) in enumerate(messages):
        for result in codec.decode(topic, payload, T0 + timedelta(seconds=10 * index)):
            if isinstance(result, Ignored):
                continue
            assert isinstance(result, MachineState), result
            out.append(result)
    return out


def test_complete_vector_reports_klippers_print_duration():
    (done,) = run(MoonrakerCodec("voron", "voron1"), (STATUS, COMPLETE))
    assert (done.machine, done.state, done.job) == ("voron", RunState.FINISHED, "cube.gcode")
    assert done.reported_busy_s == 3601.2
    assert done.material is None


def test_monotonic_eventtime_is_not_used_as_the_event_time():
    (done,) = run(MoonrakerCodec("voron", "voron1"), (STATUS, COMPLETE))
    assert done.at == T0


def test_klipper_print_cancelled_after_a_pause():
    codec = MoonrakerCodec("voron", "voron1")
    timeline = run(
        codec,
        (SERVER, b'{"server": "online"}'),
        status(100.0, print_stats=STANDBY),
        status(110.0, print_stats={"state": "printing", "filename": "gcodes/bracket.gcode"}),
        status(120.0, print_stats={"print_duration": 10.0}, virtual_sdcard={"progress": 0.05}),
        status(130.0, virtual_sdcard={"progress": 0.052}),
        status(140.0, print_stats={"state": "paused", "print_duration": 600.0}),
        status(150.0, print_stats={"state": "printing"}),
        status(160.0, print_stats={"print_duration": 1800.5, "filament_used": 1234.5}),
        status(170.0, print_stats={"state": "cancelled", "total_duration": 2400.0}),
        status(180.0, print_stats={"state": "standby"}),
    )
    assert [(e.state.value, e.progress) for e in timeline] == [
        ("unknown", None),
        ("idle", None),
        ("running", None),
        ("running", 5.0),
        ("paused", 5.2),
        ("running", 5.2),
        ("cancelled", None),
        ("idle", None),
    ]
    cancelled = timeline[-2]
    assert cancelled.job == "bracket.gcode"
    assert (cancelled.reported_busy_s, cancelled.material) == (1800.5, 1234.5)


def test_states_map_to_run_states():
    codec = MoonrakerCodec("voron", "voron1")
    names = ["standby", "printing", "paused", "complete", "error", "cancelled", "bogus"]
    timeline = run(codec, *(status(i, print_stats={"state": s}) for i, s in enumerate(names)))
    assert [e.state for e in timeline] == [
        RunState.IDLE,
        RunState.RUNNING,
        RunState.PAUSED,
        RunState.FINISHED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.UNKNOWN,
    ]


def test_standby_straight_after_printing_is_interrupted_not_cancelled():
    codec = MoonrakerCodec("voron", "voron1")
    timeline = run(
        codec,
        status(1, print_stats={"state": "printing", "filename": "a.gcode"}),
        status(2, print_stats={"state": "standby"}),
    )
    assert timeline[-1].state is RunState.INTERRUPTED


def test_display_status_progress_is_used_too():
    codec = MoonrakerCodec("voron", "voron1")
    timeline = run(
        codec,
        status(1, print_stats={"state": "printing"}),
        status(2, display_status={"progress": 0.5}),
    )
    assert timeline[-1].progress == 50.0


def test_server_offline_is_offline_and_the_next_status_reestablishes_state():
    codec = MoonrakerCodec("voron", "voron1")
    timeline = run(
        codec,
        status(1, print_stats={"state": "printing"}),
        (SERVER, b'{"server": "offline"}'),
        (SERVER, b'{"server": "online"}'),
        status(2, print_stats={"print_duration": 5.0}),
    )
    assert [e.state for e in timeline] == [
        RunState.RUNNING,
        RunState.OFFLINE,
        RunState.UNKNOWN,
        RunState.RUNNING,
    ]


def test_status_without_print_stats_emits_nothing():
    codec = MoonrakerCodec("voron", "voron1")
    assert only_ignores(codec.decode(*status(1, toolhead={"position": [0, 0, 0, 0]}), T0))


def test_bad_messages_are_decode_errors():
    codec = MoonrakerCodec("voron", "voron1")
    for topic, payload in (
        (STATUS, b"\x00\x01"),
        (STATUS, b'{"eventtime": 1}'),
        (STATUS, b'{"status": {"print_stats": []}}'),
        (SERVER, b'{"server": "sleepy"}'),
        ("voron2/klipper/status", COMPLETE),
    ):
        (error,) = codec.decode(topic, payload, T0)
        assert isinstance(error, DecodeError), (topic, payload)


def test_redelivered_status_gets_the_same_id_and_another_eventtime_does_not():
    (first,) = MoonrakerCodec("voron", "voron1").decode(STATUS, COMPLETE, T0)
    (again,) = MoonrakerCodec("voron", "voron1").decode(STATUS, COMPLETE, T0 + timedelta(hours=1))
    other = COMPLETE.replace(b"1234.56", b"99.5")
    (different,) = MoonrakerCodec("voron", "voron1").decode(STATUS, other, T0)
    assert isinstance(first, MachineState) and isinstance(again, MachineState)
    assert isinstance(different, MachineState)
    assert first.event_id == again.event_id != different.event_id


STATS_KEYS = ["state", "filename", "print_duration", "total_duration", "filament_used"]
shaped = st.fixed_dictionaries(
    {
        "eventtime": json_values,
        "status": st.fixed_dictionaries(
            {"print_stats": objects_with(STATS_KEYS) | json_values},
            optional={"virtual_sdcard": objects_with(["progress"])},
        )
        | json_values,
    }
) | objects_with(["server", "eventtime", "status"])


@given(st.lists(st.tuples(st.sampled_from([STATUS, SERVER]), payloads(shaped)), max_size=10))
def test_no_input_on_its_topics_raises(messages):
    codec = MoonrakerCodec("voron", "voron1")
    for topic, payload in messages:
        results = codec.decode(topic, payload, T0)
        assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e6),
            st.sampled_from(["standby", "printing", "paused", "complete", "error", "cancelled"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_redelivered_messages_get_the_same_ids(updates):
    messages = [status(t, print_stats={"state": s}) for t, s in updates]
    first, again = MoonrakerCodec("voron", "voron1"), MoonrakerCodec("voron", "voron1")
    ids_first = [e.event_id for m in messages for e in without_ignores(first.decode(*m, T0))]
    later = T0 + timedelta(days=1)
    ids_again = [e.event_id for m in messages for e in without_ignores(again.decode(*m, later))]
    assert ids_first and ids_first == ids_again
