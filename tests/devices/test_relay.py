"""Relay commands and the states that confirm them, for Tasmota, Shelly Gen2 and lab/v1."""

from __future__ import annotations

import json

import pytest

from devices import relay


def test_tasmota_command_and_every_place_its_state_is_reported():
    message = relay.command("tasmota", "plug-laser", True, 7, "labledger/x")
    assert (message.topic, message.payload) == ("cmnd/plug-laser/POWER", b"ON")
    assert relay.command("tasmota", "plug-laser", False, 8, "x").payload == b"OFF"
    assert relay.state_topics("tasmota", "plug-laser") == [
        "stat/plug-laser/POWER",
        "stat/plug-laser/RESULT",
        "tele/plug-laser/STATE",
    ]
    read = lambda topic, payload: relay.read_power("tasmota", "plug-laser", topic, payload)  # noqa: E731
    assert read("stat/plug-laser/POWER", b"ON") is True
    assert read("stat/plug-laser/RESULT", b'{"POWER":"OFF"}') is False
    state = b'{"Time":"2023-05-19T20:52:56","Uptime":"0T01:00:00","POWER1":"ON","Wifi":{}}'
    assert read("tele/plug-laser/STATE", state) is True
    assert read("stat/plug-laser/RESULT", b'{"Dimmer":40}') is None
    assert read("stat/plug-laser/POWER", b"\xff\xfe") is None


def test_shelly_gen2_switch_set_and_its_confirmations():
    message = relay.command("shelly", "shellyplus1pm-laser", True, 12, "labledger/svc")
    assert message.topic == "shellyplus1pm-laser/rpc"
    assert json.loads(message.payload) == {
        "id": 12,
        "src": "labledger/svc",
        "method": "Switch.Set",
        "params": {"id": 0, "on": True},
    }
    read = lambda topic, body: relay.read_power(  # noqa: E731
        "shelly", "shellyplus1pm-laser", topic, json.dumps(body).encode()
    )
    status = {"id": 0, "source": "MQTT", "output": True, "apower": 3.1, "aenergy": {"total": 12.5}}
    assert read("shellyplus1pm-laser/status/switch:0", status) is True
    notify = {
        "src": "shellyplus1pm-laser",
        "method": "NotifyStatus",
        "params": {"ts": 1700000000.5, "switch:0": {"id": 0, "output": False}},
    }
    assert read("shellyplus1pm-laser/events/rpc", notify) is False
    assert read("shellyplus1pm-laser/events/rpc", {"id": 12, "result": {"was_on": False}}) is None


def test_lab_v1_power_topics():
    message = relay.command("lab", "laser", False, 3, "x")
    assert message.topic == "lab/v1/machine/laser/power/set"
    assert json.loads(message.payload) == {"power": "off", "id": "labledger-3"}
    assert relay.read_power("lab", "laser", "lab/v1/machine/laser/power", b'{"power":"on"}') is True
    assert relay.read_power("lab", "laser", "lab/v1/machine/laser/power", b"[]") is None


@pytest.mark.parametrize(("kind", "address"), [("lab", "a/b"), ("tasmota", "a/+"), ("x10", "a")])
def test_an_address_that_cannot_be_a_topic_is_refused(kind, address):
    with pytest.raises(ValueError):
        relay.check_address(kind, address)
