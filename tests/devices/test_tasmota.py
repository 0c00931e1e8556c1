"""Tasmota energy telemetry: runs detected from power, energy per run, LWT."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import DecodeError, Ignored, MachineState, RunState
from devices.power import PowerRunDetector
from devices.tasmota import TasmotaCodec
from tests.devices.ignores import only_ignores
from tests.devices.json_strategies import json_values, objects_with, payloads

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
SENSOR = "tele/laser_plug/SENSOR"
LWT = "tele/laser_plug/LWT"

# tasmota/docs MQTT.md, real capture.
CAPTURE = (
    b'{"Time":"2023-05-19T20:52:56","ENERGY":{"TotalStartTime":"2022-03-20T15:20:48",'
    b'"Total":514.153,"Yesterday":1.495,"Today":0.537,"Period":0,"Power":56,'
    b'"ApparentPower":92,"ReactivePower":73,"Factor":0.61,"Voltage":234,"Current":0.392}}'
)


def codec(threshold_w: float = 100.0, channel: int | None = None) -> TasmotaCodec:
    """A codec for a laser plug with the default detector settings."""
    detector = PowerRunDetector.for_threshold(threshold_w)
    return TasmotaCodec("laser", "laser_plug", detector, channel=channel)


def sensor(seconds: int, power: object, total_kwh: object) -> bytes:
    """A SENSOR payload `seconds` into the test, in the device's local time."""
    local = datetime(2024, 3, 1, 10, 0) + timedelta(seconds=seconds)
    energy = {"Total": total_kwh, "Power": power, "Voltage": 231}
    return json.dumps({"Time": local.isoformat(), "ENERGY": energy}).encode()


def run(codec: TasmotaCodec, messages: list[tuple[int, str, bytes]]) -> list[MachineState]:
    """Decode (seconds, topic, payload) messages received at T0 + seconds."""
    out: list[MachineState] = []
    for seconds, topic, payload in messages:
        for result in codec.decode(topic, payload, T0 + timedelta(seconds=seconds)):
            if isinstance(result, Ignored):
                continue
            assert isinstance(result, MachineState), result
            out.append(result)
    return out


def laser_day() -> list[tuple[int, str, bytes]]:
    """Readings every 10 s: idle, one spike, idle, a 60 s cut, then idle again."""
    watts = [5, 5, 450, 5, 5, 820, 830, 815, 840, 825, 810, 6, 5, 5, 5, 5]
    messages = []
    total = 514.153
    for index, power in enumerate(watts):
        messages.append((10 * index, SENSOR, sensor(10 * index, power, round(total, 4))))
        total += power * 10 / 3600 / 1000
    return messages


def test_real_capture_settles_idle_below_the_threshold():
    (idle,) = run(codec(), [(0, SENSOR, CAPTURE)])
    assert (idle.machine, idle.state, idle.power_w, idle.at) == ("laser", "idle", 56.0, T0)


def test_laser_run_from_power_with_a_spike_that_does_not_count():
    timeline = run(codec(), laser_day())
    assert [(e.state, e.at) for e in timeline] == [
        (RunState.IDLE, T0),
        (RunState.RUNNING, T0 + timedelta(seconds=50)),
        (RunState.IDLE, T0 + timedelta(seconds=110)),
    ]
    started, stopped = timeline[1:]
    assert started.power_w == 820.0
    # Energy from the start reading to the stop reading: 60 s near 823 W, in Wh.
    assert stopped.energy_wh == pytest.approx(
        (820 + 830 + 815 + 840 + 825 + 810) * 10 / 3600, abs=1
    )
    assert stopped.power_w == 6.0


def test_total_in_kwh_becomes_wh():
    messages = [
        (0, SENSOR, sensor(0, 500, 1.000)),
        (10, SENSOR, sensor(10, 500, 1.002)),
        (20, SENSOR, sensor(20, 0, 1.004)),
        (50, SENSOR, sensor(50, 0, 1.004)),
    ]
    *_, stopped = run(codec(), messages)
    assert stopped.energy_wh == pytest.approx(4.0)


def test_multichannel_arrays_are_summed_by_default():
    payload = b'{"Time":"2024-03-01T10:00:00","ENERGY":{"Power":[52,5],"Total":[2.813,0.254]}}'
    (idle,) = codec().decode(SENSOR, payload, T0)
    assert isinstance(idle, MachineState) and idle.power_w == 57.0


def test_configured_channel_is_read_alone():
    payload = b'{"Time":"2024-03-01T10:00:00","ENERGY":{"Power":[52,5],"Total":[2.813,0.254]}}'
    (idle,) = codec(threshold_w=50.0, channel=1).decode(SENSOR, payload, T0)
    assert isinstance(idle, MachineState) and idle.power_w == 5.0


def test_power_sent_as_string_is_read():
    (idle,) = codec().decode(SENSOR, sensor(0, "12.5", "1.0"), T0)
    assert isinstance(idle, MachineState) and idle.power_w == 12.5


def test_redelivered_reading_is_not_counted_twice():
    messages = [(0, SENSOR, sensor(0, 800, 1.0))]
    messages.append((10, SENSOR, messages[0][2]))
    assert run(codec(), messages) == []


def test_offline_during_a_run_closes_it_at_the_last_reading():
    messages = [
        (0, SENSOR, sensor(0, 800, 1.000)),
        (10, SENSOR, sensor(10, 800, 1.002)),
        (20, SENSOR, sensor(20, 800, 1.005)),
        (200, LWT, b"Offline"),
    ]
    *_, offline = run(codec(), messages)
    assert (offline.state, offline.at) == (RunState.OFFLINE, T0 + timedelta(seconds=20))
    assert offline.energy_wh == pytest.approx(5.0)


def test_offline_when_idle_and_online_again():
    plug = codec()
    messages = [(0, SENSOR, sensor(0, 3, 1.0)), (60, LWT, b"Offline"), (90, LWT, b"Online")]
    timeline = run(plug, messages)
    assert [(e.state, e.at) for e in timeline] == [
        (RunState.IDLE, T0),
        (RunState.OFFLINE, T0 + timedelta(seconds=60)),
        (RunState.UNKNOWN, T0 + timedelta(seconds=90)),
    ]
    # Back online, the first reading settles the state again.
    (idle,) = run(plug, [(100, SENSOR, sensor(100, 3, 1.0))])
    assert (idle.state, idle.at) == (RunState.IDLE, T0 + timedelta(seconds=100))


def test_other_topics_of_the_device_are_ignored_and_foreign_ones_are_errors():
    plug = codec()
    assert only_ignores(plug.decode("tele/laser_plug/STATE", b'{"POWER":"ON"}', T0))
    assert only_ignores(plug.decode("stat/laser_plug/RESULT", b'{"POWER":"OFF"}', T0))
    (error,) = plug.decode("tele/other_plug/SENSOR", CAPTURE, T0)
    assert isinstance(error, DecodeError)


def test_sensor_without_energy_is_ignored():
    assert only_ignores(
        codec().decode(SENSOR, b'{"Time":"2024-03-01T10:00:00","DS18B20":{"T":21}}', T0)
    )


def test_bad_payloads_are_decode_errors():
    plug = codec()
    for topic, payload in (
        (SENSOR, b"\xfe"),
        (SENSOR, b'{"ENERGY": 3}'),
        (SENSOR, b'{"ENERGY": {"Total": 1.0}}'),
        (SENSOR, b'{"ENERGY": {"Power": ["a", 1]}}'),
        (LWT, b"Sleeping"),
    ):
        (error,) = plug.decode(topic, payload, T0)
        assert isinstance(error, DecodeError), payload


def test_invalid_config_is_rejected():
    detector = PowerRunDetector.for_threshold(100.0)
    with pytest.raises(ValueError):
        TasmotaCodec("laser", "tele/+", detector)
    with pytest.raises(ValueError):
        TasmotaCodec("laser", "plug", detector, channel=-1)


shaped = objects_with(["Time", "ENERGY"]) | st.fixed_dictionaries(
    {"Time": json_values, "ENERGY": objects_with(["Power", "Total", "Voltage"]) | json_values}
)


@given(st.lists(st.tuples(st.sampled_from([SENSOR, LWT]), payloads(shaped)), max_size=12))
def test_no_input_on_its_topics_raises(messages):
    plug = codec()
    for index, (topic, payload) in enumerate(messages):
        results = plug.decode(topic, payload, T0 + timedelta(seconds=10 * index))
        assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)


@given(st.lists(st.floats(0, 2000), min_size=1, max_size=20))
def test_redelivered_readings_get_the_same_ids(watts):
    series = [3.0, *watts]  # the first reading settles idle, so there is always an event
    messages = [(10 * i, SENSOR, sensor(10 * i, w, 1.0 + i / 1000)) for i, w in enumerate(series)]
    later = [(s + 3600, t, p) for s, t, p in messages]
    first = [e.event_id for e in run(codec(), messages)]
    again = [e.event_id for e in run(codec(), later)]
    assert first and first == again
