"""Tasmota smart plugs and meters (`tele/<topic>/SENSOR`, `tele/<topic>/LWT`).

Format: tasmota/docs `MQTT.md` with the default FullTopic `%prefix%/%topic%/`:
`tele/<topic>/SENSOR` every TelePeriod with an `ENERGY` object (`Power` in W,
`Total` in kWh, converted here to Wh), and the retained LWT `tele/<topic>/LWT`
= `Online`/`Offline`. `STATE`, `RESULT` and the other tele/stat topics add
nothing to run detection and are ignored.

- Multi-channel meters send arrays (`"Power":[52,5]`, `"Total":[2.813,0.254]`):
  by default the channels are summed (one machine wired across them); with
  `channel` set, only that 0-based channel is read. A scalar is used as is.
- Readings feed a `PowerRunDetector`; only its transitions emit a
  `MachineState` (with the power then, and the run's energy on the ending one).
  Plain readings emit no event (`Ignored`, `no_transition`): a run's start, end
  and energy are all the app needs, and one event per TelePeriod per plug would
  only fill the database. Other ignores: `other_topic` (STATE, RESULT, ...),
  `no_energy` (a sensor without `ENERGY`), `repeated_reading`.
- `Time` is local time without a zone, so readings are timed at receipt
  (`devices.timebase`); `Time` still feeds the derived id, and an exact repeat
  of the previous reading (a redelivery) is not fed to the detector twice.
- `Offline` -> offline, dated to the last reading when a run was open (the run
  closes at its last good sample) with the energy used up to it. `Online` ->
  unknown until the readings settle the state again.
"""

from __future__ import annotations

from datetime import datetime

from devices._wire import (
    availability_event_ids,
    load_object,
    load_text,
    message_event_ids,
    require_topic_part,
    scalar_text,
    to_float,
)
from devices.events import DecodeError, Ignored, Result
from devices.power import PowerRunDetector, availability_events
from devices.timebase import as_utc

_WH_PER_KWH = 1000.0


class TasmotaCodec:
    """Decodes one Tasmota device's energy telemetry into power-sensed run transitions."""

    def __init__(
        self,
        machine: str,
        topic: str,
        detector: PowerRunDetector,
        channel: int | None = None,
    ) -> None:
        if channel is not None and channel < 0:
            raise ValueError(f"Tasmota channel must be 0 or more, got {channel}")
        self.machine = machine
        self.topic = require_topic_part("Tasmota topic", topic, allow_slash=True)
        self.channel = channel
        self.detector = detector
        self.sensor_topic = f"tele/{topic}/SENSOR"
        self.lwt_topic = f"tele/{topic}/LWT"
        self._last_sensor: bytes | None = None

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Return the run transition (or availability change) one message brings."""
        if topic == self.sensor_topic:
            return self._sensor(topic, payload, as_utc(received_at))
        if topic == self.lwt_topic:
            return self._availability(topic, payload, as_utc(received_at))
        if topic.startswith((f"tele/{self.topic}/", f"stat/{self.topic}/")):
            return [Ignored(topic, "other_topic")]  # STATE, RESULT, STATUSn
        return [DecodeError(topic, f"not a telemetry topic of Tasmota {self.topic}", payload)]

    def _sensor(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """One periodic reading."""
        message = load_object(topic, payload)
        if isinstance(message, DecodeError):
            return [message]
        energy = message.get("ENERGY")
        if energy is None:
            return [Ignored(topic, "no_energy")]  # a device with other sensors only
        if not isinstance(energy, dict):
            return [DecodeError(topic, "ENERGY is not an object", payload)]
        power_w = self._reading(energy.get("Power"))
        if power_w is None:
            return [DecodeError(topic, "ENERGY has no usable Power", payload)]
        if payload == self._last_sensor:
            return [Ignored(topic, "repeated_reading")]
        self._last_sensor = payload
        total_kwh = self._reading(energy.get("Total"))
        total_wh = None if total_kwh is None else total_kwh * _WH_PER_KWH
        transition = self.detector.observe(received_at, power_w, total_wh)
        if transition is None:
            return [Ignored(topic, "no_transition")]
        time_text = scalar_text(message.get("Time"))
        event_id, fingerprint = message_event_ids(topic, time_text, payload, received_at)
        return [transition.as_event(self.machine, event_id, fingerprint)]

    def _reading(self, value: object) -> float | None:
        """A per-channel value: the configured channel, or all channels summed."""
        if not isinstance(value, list):
            return to_float(value)
        numbers = [to_float(item) for item in value]
        if not numbers or any(number is None for number in numbers):
            return None
        if self.channel is not None:
            return numbers[self.channel] if self.channel < len(numbers) else None
        return sum(number for number in numbers if number is not None)

    def _availability(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """The retained LWT."""
        word = (load_text(payload) or "").lower()
        if word not in ("online", "offline"):
            return [DecodeError(topic, "LWT is neither Online nor Offline", payload)]
        ids = availability_event_ids(topic, payload, received_at)
        online = word == "online"
        if not online:
            self._last_sensor = None
        return availability_events(self.detector, self.machine, online, received_at, ids)
