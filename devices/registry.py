"""Which codec and which MQTT topics serve each machine adapter and reader protocol.

The app and the bridge hold machines and readers as (adapter or protocol,
label, address) from configuration; this module turns them into a codec and
the topics to subscribe to. An unknown name or a bad address is a config
error, not wire data, so it raises `ValueError` at start-up.

Adapters, their address and the topics they need:

- bambu: printer serial; `device/<serial>/report`.
- octoprint: base topic (default `octoPrint`); `<base>/event/+`,
  `<base>/progress/printing`, `<base>/mqtt`.
- moonraker: instance; `<instance>/klipper/status`, `<instance>/moonraker/status`.
- tasmota: device topic; `tele/<topic>/SENSOR`, `tele/<topic>/LWT`.
- shelly: topic prefix; `<prefix>/status/switch:0`, `<prefix>/events/rpc`,
  `<prefix>/online` (channel 0).
- lab: machine segment; `lab/v1/machine/<address>/state`.
- marlin, scpi: serial port; no topics, stream codecs fed from the port.

Reader protocols: `mqtt` (`lab/v1/badge/<address>`), and the serial ones
`rdm6300`, `id12la`, `wedge`, `wiegand26` (no topics). Codecs label their
events with the configured label; the lab/v1 codec labels them from the topic,
so here it is bound to the configured topic and its events get the label.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Final

from devices._wire import require_topic_part
from devices.bambu import BambuCodec
from devices.codec import MqttCodec, StreamCodec
from devices.events import BadgeScan, DecodeError, MachineState, Result
from devices.labv1 import LabV1Codec
from devices.marlin import MarlinCodec
from devices.moonraker import MoonrakerCodec
from devices.octoprint import OctoPrintCodec
from devices.power import PowerRunDetector
from devices.rfid import RfidReaderCodec
from devices.scpi import ScpiCodec
from devices.shelly import ShellyCodec
from devices.tasmota import TasmotaCodec

Codec = MqttCodec | StreamCodec

STREAM_ADAPTERS: Final = ("marlin", "scpi")
POWER_ADAPTERS: Final = ("shelly", "tasmota")
MQTT_ADAPTERS: Final = ("bambu", "lab", "moonraker", "octoprint", "shelly", "tasmota")
ADAPTERS: Final = tuple(sorted(STREAM_ADAPTERS + MQTT_ADAPTERS))

STREAM_READER_PROTOCOLS: Final = ("id12la", "rdm6300", "wedge", "wiegand26")
READER_PROTOCOLS: Final = ("mqtt", *STREAM_READER_PROTOCOLS)

DEFAULT_OCTOPRINT_BASE: Final = "octoPrint"


class _LabTopic:
    """A lab/v1 codec bound to one configured topic, its events labelled as configured."""

    def __init__(self, topic: str, *, machine: str | None, reader: str | None) -> None:
        self.topic = topic
        self._inner = LabV1Codec()
        self._machine = machine
        self._reader = reader

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Decode with the lab/v1 codec, then put the configured label on its events."""
        if topic != self.topic:
            return [DecodeError(topic, f"not the configured topic {self.topic}", payload)]
        return [self._relabel(result) for result in self._inner.decode(topic, payload, received_at)]

    def _relabel(self, result: Result) -> Result:
        """One event with the configured label."""
        if isinstance(result, MachineState) and self._machine is not None:
            return dataclasses.replace(result, machine=self._machine)
        if isinstance(result, BadgeScan) and self._reader is not None:
            return dataclasses.replace(result, reader=self._reader)
        return result


def is_stream_adapter(adapter: str) -> bool:
    """Whether a machine adapter reads a serial stream (fed bytes) rather than MQTT."""
    return _known_adapter(adapter) in STREAM_ADAPTERS


def is_stream_reader(protocol: str) -> bool:
    """Whether a reader protocol reads a serial stream rather than MQTT."""
    return _known_protocol(protocol) in STREAM_READER_PROTOCOLS


def machine_codec(
    adapter: str,
    machine_label: str,
    address: str,
    running_threshold_w: float | None = None,
    power_timing_s: tuple[float, float] | None = None,
) -> Codec:
    """A fresh codec for one machine; power-sensed adapters need the running threshold.

    `power_timing_s` is (T_on, T_off): how long power must stay above or below the
    thresholds before a run starts or stops (the detector's defaults when None).
    """
    adapter = _known_adapter(adapter)
    if adapter in POWER_ADAPTERS:
        if running_threshold_w is None:
            raise ValueError(f"{adapter} machine {machine_label!r} needs a running threshold (W)")
        detector = (
            PowerRunDetector.for_threshold(running_threshold_w, *power_timing_s)
            if power_timing_s is not None
            else PowerRunDetector.for_threshold(running_threshold_w)
        )
        if adapter == "tasmota":
            return TasmotaCodec(machine_label, address, detector)
        return ShellyCodec(machine_label, address, detector=detector)
    return _PLAIN_MACHINE_CODECS[adapter](machine_label, address)


def machine_topics(adapter: str, address: str) -> list[str]:
    """The MQTT topic filters a machine's codec needs; none for serial adapters."""
    adapter = _known_adapter(adapter)
    if adapter in STREAM_ADAPTERS:
        return []
    if adapter == "octoprint":
        address = address or DEFAULT_OCTOPRINT_BASE
    single_level = adapter in ("bambu", "lab")
    part = require_topic_part(f"{adapter} address", address, allow_slash=not single_level)
    return [template.format(part) for template in _MACHINE_TOPICS[adapter]]


def reader_codec(protocol: str, reader_label: str, address: str) -> Codec:
    """A fresh codec for one badge reader (the address is its port or topic segment)."""
    protocol = _known_protocol(protocol)
    if protocol == "mqtt":
        (topic,) = reader_topics(protocol, address)
        return _LabTopic(topic, machine=None, reader=reader_label)
    return RfidReaderCodec(reader_label, protocol)


def reader_topics(protocol: str, address: str) -> list[str]:
    """The MQTT topics a badge reader needs; none for serial readers."""
    if _known_protocol(protocol) != "mqtt":
        return []
    return [f"lab/v1/badge/{require_topic_part('mqtt reader address', address, allow_slash=False)}"]


def _bambu(label: str, address: str) -> Codec:
    """Bambu printer by serial."""
    return BambuCodec(label, address)


def _octoprint(label: str, address: str) -> Codec:
    """OctoPrint by base topic, the plugin's default when none is configured."""
    return OctoPrintCodec(label, address or DEFAULT_OCTOPRINT_BASE)


def _moonraker(label: str, address: str) -> Codec:
    """Moonraker by instance name."""
    return MoonrakerCodec(label, address)


def _lab(label: str, address: str) -> Codec:
    """A lab/v1 native machine by its topic segment."""
    (topic,) = machine_topics("lab", address)
    return _LabTopic(topic, machine=label, reader=None)


def _marlin(label: str, _address: str) -> Codec:
    """Marlin printer on a serial port (the port is opened by the caller)."""
    return MarlinCodec(label)


def _scpi(label: str, _address: str) -> Codec:
    """SCPI instrument on a serial port (the port is opened by the caller)."""
    return ScpiCodec(label)


_PLAIN_MACHINE_CODECS: Final[dict[str, Callable[[str, str], Codec]]] = {
    "bambu": _bambu,
    "octoprint": _octoprint,
    "moonraker": _moonraker,
    "lab": _lab,
    "marlin": _marlin,
    "scpi": _scpi,
}

_MACHINE_TOPICS: Final[dict[str, tuple[str, ...]]] = {
    "bambu": ("device/{}/report",),
    "octoprint": ("{}/event/+", "{}/progress/printing", "{}/mqtt"),
    "moonraker": ("{}/klipper/status", "{}/moonraker/status"),
    "tasmota": ("tele/{}/SENSOR", "tele/{}/LWT"),
    "shelly": ("{}/status/switch:0", "{}/events/rpc", "{}/online"),
    "lab": ("lab/v1/machine/{}/state",),
}


def _known_adapter(adapter: str) -> str:
    """The adapter name, or a config error naming the valid ones."""
    if adapter not in ADAPTERS:
        raise ValueError(f"unknown machine adapter {adapter!r}; expected one of {ADAPTERS}")
    return adapter


def _known_protocol(protocol: str) -> str:
    """The reader protocol name, or a config error naming the valid ones."""
    if protocol not in READER_PROTOCOLS:
        raise ValueError(
            f"unknown reader protocol {protocol!r}; expected one of {READER_PROTOCOLS}"
        )
    return protocol
