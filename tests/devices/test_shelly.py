"""Shelly Gen2/Gen3 switch status and notifications: merged status, power runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import DecodeError, Ignored, MachineState, RunState
from devices.power import PowerRunDetector
from devices.shelly import ShellyCodec
from tests.devices.ignores import only_ignores, without_ignores
from tests.devices.json_strategies import json_values, objects_with, payloads

PREFIX = "shellyplus1pm-441793d69718"
STATUS = f"{PREFIX}/status/switch:0"
RPC = f"{PREFIX}/events/rpc"
ONLINE = f"{PREFIX}/online"
TS0 = 1709283600.0
T0 = datetime.fromtimestamp(TS0, tz=UTC)

# Shape of shelly-api-docs gen2 Switch.GetStatus / status notifications.
FULL_STATUS = {
    "id": 0,
    "source": "init",
    "output": True,
    "apower": 2.1,
    "voltage": 229.9,
    "current": 0.012,
    "aenergy": {"total": 11679.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1709283540},
    "temperature": {"tC": 36.6, "tF": 97.9},
}


def codec(channel: int = 0) -> ShellyCodec:
    """A codec for a CNC router drawing over 200 W when cutting."""
    return ShellyCodec("cnc", PREFIX, channel, detector=PowerRunDetector.for_threshold(200.0))


def notify(seconds: float, component: str = "switch:0", **fields: object) -> tuple[str, bytes]:
    """A NotifyStatus frame `seconds` after TS0 carrying a partial component status."""
    body = {
        "src": PREFIX,
        "dst": f"{PREFIX}/events",
        "method": "NotifyStatus",
        "params": {"ts": TS0 + seconds, component: {"id": 0, **fields}},
    }
    return RPC, json.dumps(body).encode()


def run(codec: ShellyCodec, *messages: tuple[str, bytes]) -> list[MachineState]:
    """Decode messages received a second apart from T0, all of which must decode cleanly."""
    out: list[MachineState] = []
    for index, (topic, payload) in enumerate(messages):
        for result in codec.decode(topic, payload, T0 + timedelta(seconds=index)):
            if isinstance(result, Ignored):
                continue
            assert isinstance(result, MachineState), result
            out.append(result)
    return out


def test_full_status_settles_idle_at_receipt():
    (idle,) = run(codec(), (STATUS, json.dumps(FULL_STATUS).encode()))
    assert (idle.machine, idle.state, idle.power_w, idle.at) == ("cnc", "idle", 2.1, T0)


def test_shelly_run_from_notifications_with_energy_from_aenergy_total():
    timeline = run(
        codec(),
        (STATUS, json.dumps(FULL_STATUS).encode()),
        notify(60, apower=850.0, current=3.7),
        notify(120, aenergy={"total": 11693.0, "minute_ts": 1709283720}),
        notify(300, apower=910.0),
        notify(600, apower=1.5, aenergy={"total": 11820.0}),
        notify(615, temperature={"tC": 38.0}),
        notify(660, aenergy={"total": 11820.1}),
    )
    assert [(e.state, e.at) for e in timeline] == [
        (RunState.IDLE, T0),
        (RunState.RUNNING, T0 + timedelta(seconds=60)),
        (RunState.IDLE, T0 + timedelta(seconds=600)),
    ]
    assert timeline[1].power_w == 850.0
    assert timeline[2].energy_wh == pytest.approx(11820.0 - 11679.0)


def test_notification_time_is_the_devices_unix_time():
    codec_ = codec()
    run(codec_, notify(0, apower=900.0))
    (started,) = codec_.decode(*notify(20, apower=905.0), T0 + timedelta(hours=1))
    assert isinstance(started, MachineState) and started.at == T0


def test_output_off_without_power_reads_as_zero_watts():
    (idle,) = run(codec(), (STATUS, b'{"id": 0, "output": false}'))
    assert idle.power_w == 0.0


def test_other_channel_and_other_components_are_ignored():
    shelly = codec(channel=1)
    assert run(shelly, notify(0, apower=3.0)) == []
    assert run(shelly, notify(0, component="sys", uptime=5)) == []
    (idle,) = run(shelly, notify(1, component="switch:1", apower=3.0))
    assert idle.state is RunState.IDLE


def test_other_notifications_and_topics_are_ignored():
    shelly = codec()
    event = {"method": "NotifyEvent", "params": {"ts": TS0, "events": []}}
    assert only_ignores(shelly.decode(RPC, json.dumps(event).encode(), T0))
    assert only_ignores(shelly.decode(f"{PREFIX}/status/sys", b'{"uptime": 5}', T0))


def test_full_status_notification_is_read_like_a_status():
    body = {"method": "NotifyFullStatus", "params": {"ts": TS0, "switch:0": FULL_STATUS}}
    (idle,) = codec().decode(RPC, json.dumps(body).encode(), T0)
    assert isinstance(idle, MachineState) and idle.power_w == 2.1


def test_offline_during_a_run_closes_it_at_the_last_reading():
    timeline = run(
        codec(),
        notify(0, apower=900.0, aenergy={"total": 100.0}),
        notify(30, apower=900.0, aenergy={"total": 107.5}),
        (ONLINE, b"false"),
        (ONLINE, b"true"),
    )
    assert [(e.state, e.at) for e in timeline] == [
        (RunState.RUNNING, T0),
        (RunState.OFFLINE, T0 + timedelta(seconds=30)),
        (RunState.UNKNOWN, T0 + timedelta(seconds=3)),
    ]
    assert timeline[1].energy_wh == pytest.approx(7.5)


def test_redelivered_notification_is_not_counted_twice():
    message = notify(0, apower=900.0)
    assert run(codec(), message, message) == []


def test_bad_payloads_are_decode_errors():
    shelly = codec()
    for topic, payload in (
        (RPC, b"\x80"),
        (RPC, b'{"method": "NotifyStatus"}'),
        (RPC, b'{"method": "NotifyStatus", "params": {"switch:0": 7}}'),
        (STATUS, b"[]"),
        (ONLINE, b"perhaps"),
        ("shellyplus1pm-other/online", b"true"),
    ):
        (error,) = shelly.decode(topic, payload, T0)
        assert isinstance(error, DecodeError), (topic, payload)


def test_invalid_config_is_rejected():
    detector = PowerRunDetector.for_threshold(10.0)
    with pytest.raises(ValueError):
        ShellyCodec("cnc", "", detector=detector)
    with pytest.raises(ValueError):
        ShellyCodec("cnc", PREFIX, -1, detector=detector)


SWITCH_KEYS = ["id", "output", "apower", "voltage", "current", "aenergy"]
shaped = (
    objects_with(SWITCH_KEYS)
    | st.fixed_dictionaries(
        {
            "method": st.sampled_from(["NotifyStatus", "NotifyFullStatus"]) | json_values,
            "params": st.fixed_dictionaries(
                {"ts": json_values, "switch:0": objects_with(SWITCH_KEYS) | json_values}
            )
            | json_values,
        }
    )
    | st.sampled_from([True, False])
)


@given(st.lists(st.tuples(st.sampled_from([STATUS, RPC, ONLINE]), payloads(shaped)), max_size=12))
def test_no_input_on_its_topics_raises(messages):
    shelly = codec()
    for index, (topic, payload) in enumerate(messages):
        results = shelly.decode(topic, payload, T0 + timedelta(seconds=10 * index))
        assert all(isinstance(r, MachineState | DecodeError | Ignored) for r in results)


@given(st.lists(st.floats(0, 3000), min_size=1, max_size=15))
def test_redelivered_notifications_get_the_same_ids(watts):
    messages = [notify(10 * i, apower=w) for i, w in enumerate([1.0, *watts])]
    first = [e.event_id for e in run(codec(), *messages)]
    again_codec = codec()
    again = [
        e.event_id
        for topic, payload in messages
        for e in without_ignores(again_codec.decode(topic, payload, T0 + timedelta(days=1)))
    ]
    assert first and first == again
