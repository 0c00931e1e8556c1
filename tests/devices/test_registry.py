"""Registry: each adapter and reader protocol maps to its codec and MQTT topics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices import registry
from devices.bambu import BambuCodec
from devices.events import BadgeScan, DecodeError, MachineState, RunState
from devices.marlin import MarlinCodec
from devices.moonraker import MoonrakerCodec
from devices.octoprint import OctoPrintCodec
from devices.rfid import RfidReaderCodec
from devices.scpi import ScpiCodec
from devices.shelly import ShellyCodec
from devices.tasmota import TasmotaCodec

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_known_adapters_and_reader_protocols():
    assert set(registry.ADAPTERS) == {
        "bambu",
        "octoprint",
        "moonraker",
        "tasmota",
        "shelly",
        "lab",
        "marlin",
        "scpi",
    }
    assert set(registry.READER_PROTOCOLS) == {"mqtt", "rdm6300", "id12la", "wedge", "wiegand26"}


@pytest.mark.parametrize(
    ("adapter", "address", "threshold", "kind"),
    [
        ("bambu", "01S00C123456789", None, BambuCodec),
        ("octoprint", "octoPrint", None, OctoPrintCodec),
        ("moonraker", "voron1", None, MoonrakerCodec),
        ("tasmota", "laser_plug", 120.0, TasmotaCodec),
        ("shelly", "shellyplus1pm-441793d69718", 200.0, ShellyCodec),
        ("marlin", "/dev/ttyUSB0", None, MarlinCodec),
        ("scpi", "/dev/ttyACM0", None, ScpiCodec),
    ],
)
def test_machine_codec_builds_the_adapters_codec(adapter, address, threshold, kind):
    assert isinstance(registry.machine_codec(adapter, "m", address, threshold), kind)


@pytest.mark.parametrize(
    ("adapter", "address", "topics"),
    [
        ("bambu", "01S00C123456789", ["device/01S00C123456789/report"]),
        (
            "octoprint",
            "octoPrint",
            ["octoPrint/event/+", "octoPrint/progress/printing", "octoPrint/mqtt"],
        ),
        ("moonraker", "voron1", ["voron1/klipper/status", "voron1/moonraker/status"]),
        ("tasmota", "laser_plug", ["tele/laser_plug/SENSOR", "tele/laser_plug/LWT"]),
        (
            "shelly",
            "shellies/cnc",
            ["shellies/cnc/status/switch:0", "shellies/cnc/events/rpc", "shellies/cnc/online"],
        ),
        ("lab", "vinyl-cutter", ["lab/v1/machine/vinyl-cutter/state"]),
        ("marlin", "/dev/ttyUSB0", []),
        ("scpi", "/dev/ttyACM0", []),
    ],
)
def test_machine_topics_per_adapter(adapter, address, topics):
    assert registry.machine_topics(adapter, address) == topics


def test_octoprint_without_address_uses_the_plugin_default_base():
    assert registry.machine_topics("octoprint", "")[0] == "octoPrint/event/+"
    codec = registry.machine_codec("octoprint", "mk3", "")
    assert isinstance(codec, OctoPrintCodec) and codec.base_topic == "octoPrint"


def test_stream_adapters_and_readers_are_told_apart():
    assert registry.is_stream_adapter("marlin") and registry.is_stream_adapter("scpi")
    assert not registry.is_stream_adapter("bambu")
    assert registry.is_stream_reader("rdm6300") and not registry.is_stream_reader("mqtt")


def test_power_sensed_adapters_need_a_threshold_and_derive_their_detector():
    with pytest.raises(ValueError, match="threshold"):
        registry.machine_codec("tasmota", "laser", "laser_plug")
    codec = registry.machine_codec("shelly", "cnc", "shellies/cnc", 300.0)
    assert isinstance(codec, ShellyCodec)
    assert (codec.detector.p_on_w, codec.detector.p_off_w) == (300.0, 150.0)


def test_unknown_names_are_config_errors_naming_them():
    with pytest.raises(ValueError, match="'prusalink'"):
        registry.machine_codec("prusalink", "m", "x")
    with pytest.raises(ValueError, match="'prusalink'"):
        registry.machine_topics("prusalink", "x")
    with pytest.raises(ValueError, match="'nfc'"):
        registry.reader_codec("nfc", "door", "x")
    with pytest.raises(ValueError, match="'nfc'"):
        registry.reader_topics("nfc", "x")
    with pytest.raises(ValueError):
        registry.is_stream_adapter("Bambu")


@pytest.mark.parametrize(
    ("adapter", "address"),
    [("bambu", "a/b"), ("tasmota", "plug/#"), ("moonraker", "+"), ("lab", "a/b"), ("bambu", "")],
)
def test_addresses_that_break_topics_are_config_errors(adapter, address):
    with pytest.raises(ValueError):
        registry.machine_topics(adapter, address)
    with pytest.raises(ValueError):
        registry.machine_codec(adapter, "m", address, 100.0)


def test_lab_machine_events_carry_the_configured_label():
    codec = registry.machine_codec("lab", "Vinyl cutter", "vinyl-cutter")
    (state,) = codec.decode("lab/v1/machine/vinyl-cutter/state", b'{"state": "running"}', T0)
    assert isinstance(state, MachineState)
    assert (state.machine, state.state) == ("Vinyl cutter", RunState.RUNNING)


def test_lab_machine_codec_refuses_another_machines_topic():
    codec = registry.machine_codec("lab", "Vinyl cutter", "vinyl-cutter")
    (error,) = codec.decode("lab/v1/machine/laser/state", b'{"state": "running"}', T0)
    assert isinstance(error, DecodeError)


def test_mqtt_reader_topic_codec_and_label():
    assert registry.reader_topics("mqtt", "door") == ["lab/v1/badge/door"]
    codec = registry.reader_codec("mqtt", "Front door", "door")
    (scan,) = codec.decode("lab/v1/badge/door", b'{"badge": "0012771493"}', T0)
    assert isinstance(scan, BadgeScan) and scan.reader == "Front door"


@pytest.mark.parametrize("protocol", ["rdm6300", "id12la", "wedge", "wiegand26"])
def test_serial_readers_are_rfid_stream_codecs_without_topics(protocol):
    codec = registry.reader_codec(protocol, "laser reader", "/dev/ttyUSB1")
    assert isinstance(codec, RfidReaderCodec) and codec.protocol == protocol
    assert registry.reader_topics(protocol, "/dev/ttyUSB1") == []


SAMPLES = {
    "bambu": {"device/SN1/report": b'{"print": {"command": "push_status", "gcode_state": "IDLE"}}'},
    "octoprint": {
        "SN1/event/PrintStarted": b'{"_timestamp": 1709283600, "name": "a.gcode"}',
        "SN1/progress/printing": b'{"progress": 5}',
        "SN1/mqtt": b"connected",
    },
    "moonraker": {
        "SN1/klipper/status": b'{"status": {"print_stats": {"state": "standby"}}}',
        "SN1/moonraker/status": b'{"server": "online"}',
    },
    "tasmota": {
        "tele/SN1/SENSOR": b'{"Time": "2024-03-01T10:00:00", "ENERGY": {"Power": 3}}',
        "tele/SN1/LWT": b"Online",
    },
    "shelly": {
        "SN1/status/switch:0": b'{"id": 0, "apower": 3.0}',
        "SN1/events/rpc": b'{"method": "NotifyStatus", "params": {"ts": 1709283600.5}}',
        "SN1/online": b"true",
    },
    "lab": {"lab/v1/machine/SN1/state": b'{"state": "idle"}'},
}


@pytest.mark.parametrize("adapter", sorted(SAMPLES))
def test_every_topic_an_adapter_needs_is_one_its_codec_reads(adapter):
    codec = registry.machine_codec(adapter, "m", "SN1", 50.0)
    topics = registry.machine_topics(adapter, "SN1")
    samples = SAMPLES[adapter]
    assert len(topics) == len({t.replace("+", "PrintStarted") for t in topics} & set(samples))
    for topic, payload in samples.items():
        results = codec.decode(topic, payload, T0)
        assert not any(isinstance(r, DecodeError) for r in results), (topic, results)
