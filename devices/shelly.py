"""Shelly Gen2/Gen3 switches with power metering, over their built-in MQTT.

Format: shelly-api-docs gen2 "MQTT" and "Notifications" pages:
`<prefix>/status/switch:<n>` carries the full switch status (with `status_ntf`
on), `<prefix>/events/rpc` carries `NotifyStatus` (and `NotifyFullStatus` on
connect) with partial objects under `params["switch:<n>"]` and `params.ts` in
Unix seconds; fields `output`, `apower` (W), `voltage`, `current`,
`aenergy.total` (Wh). Availability `<prefix>/online` = `true`/`false`.

- Partial objects are merged into the last known status of the channel.
- Shelly reports on change (and its energy counter about every minute), not on
  a period. Every message about the channel is therefore a reading of the
  merged status at that moment: an unchanged `apower` is still the power.
  It feeds a `PowerRunDetector`; a stop is confirmed by the first message at
  least `t_off_s` after the drop and dated back to it. `output` false with no
  `apower` known reads as 0 W.
- Only transitions emit a `MachineState` (with power, and the run's energy on
  the ending one), as for Tasmota. Every other message is returned as
  `Ignored`: `other_topic`, `other_notification`, `other_component`,
  `repeated_reading` (the same bytes again), `no_power_yet`, `no_transition`.
- Times: `params.ts` is a real Unix time and dates a `NotifyStatus` reading;
  `status/switch:<n>` has no time and is dated at receipt. When both report
  one change, the later-dated copy is dropped by the detector (not later than
  the previous reading), which loses nothing.
- `online` `false` -> offline, dated to the last reading when a run was open,
  with the energy used up to it; `true` -> unknown until readings settle it.
"""

from __future__ import annotations

from datetime import datetime

from devices._wire import (
    JsonObject,
    availability_event_ids,
    load_object,
    load_text,
    message_event_ids,
    require_topic_part,
    scalar_text,
    to_float,
    to_text,
)
from devices.events import DecodeError, Ignored, Result
from devices.power import PowerRunDetector, availability_events
from devices.timebase import as_utc, from_unix

_NOTIFICATIONS = frozenset({"NotifyStatus", "NotifyFullStatus"})


class ShellyCodec:
    """Decodes one Shelly switch channel into power-sensed run transitions."""

    def __init__(
        self,
        machine: str,
        prefix: str,
        channel: int = 0,
        *,
        detector: PowerRunDetector,
    ) -> None:
        if channel < 0:
            raise ValueError(f"Shelly channel must be 0 or more, got {channel}")
        self.machine = machine
        self.prefix = require_topic_part("Shelly prefix", prefix, allow_slash=True)
        self.channel = channel
        self.detector = detector
        self.component = f"switch:{channel}"
        self.status_topic = f"{prefix}/status/{self.component}"
        self.rpc_topic = f"{prefix}/events/rpc"
        self.online_topic = f"{prefix}/online"
        self._status: JsonObject = {}
        self._last_payloads: dict[str, bytes] = {}

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Return the run transition (or availability change) one message brings."""
        received_at = as_utc(received_at)
        if topic == self.online_topic:
            return self._availability(topic, payload, received_at)
        if topic == self.status_topic:
            message = load_object(topic, payload)
            if isinstance(message, DecodeError):
                return [message]
            return self._reading(topic, payload, message, received_at, None)
        if topic == self.rpc_topic:
            return self._notification(topic, payload, received_at)
        if topic.startswith(self.prefix + "/"):
            return [Ignored(topic, "other_topic")]  # other components, command responses
        return [DecodeError(topic, f"not a topic of Shelly {self.prefix}", payload)]

    def _notification(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """A `NotifyStatus`/`NotifyFullStatus` frame; other notifications are ignored."""
        message = load_object(topic, payload)
        if isinstance(message, DecodeError):
            return [message]
        if to_text(message.get("method")) not in _NOTIFICATIONS:
            return [Ignored(topic, "other_notification")]  # NotifyEvent and RPC responses
        params = message.get("params")
        if not isinstance(params, dict):
            return [DecodeError(topic, "notification has no params object", payload)]
        status = params.get(self.component)
        if status is None:
            return [Ignored(topic, "other_component")]
        if not isinstance(status, dict):
            return [DecodeError(topic, f"{self.component} is not an object", payload)]
        return self._reading(topic, payload, status, received_at, params.get("ts"))

    def _reading(
        self,
        topic: str,
        payload: bytes,
        status: JsonObject,
        received_at: datetime,
        ts: object,
    ) -> list[Result]:
        """Merge one (partial) switch status and feed the detector the reading it gives."""
        if self._last_payloads.get(topic) == payload:
            return [Ignored(topic, "repeated_reading")]  # the detector has seen it
        self._last_payloads[topic] = payload
        _merge(self._status, status)
        power_w = to_float(self._status.get("apower"))
        if power_w is None and self._status.get("output") is False:
            power_w = 0.0
        if power_w is None:
            return [Ignored(topic, "no_power_yet")]
        aenergy = self._status.get("aenergy")
        total_wh = to_float(aenergy.get("total")) if isinstance(aenergy, dict) else None
        at = from_unix(ts, received_at)
        transition = self.detector.observe(at, power_w, total_wh)
        if transition is None:
            return [Ignored(topic, "no_transition")]
        event_id, fingerprint = message_event_ids(topic, scalar_text(ts), payload, received_at)
        return [transition.as_event(self.machine, event_id, fingerprint)]

    def _availability(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """The retained availability flag."""
        word = (load_text(payload) or "").lower()
        if word not in ("true", "false"):
            return [DecodeError(topic, "online is neither true nor false", payload)]
        ids = availability_event_ids(topic, payload, received_at)
        online = word == "true"
        if not online:
            self._last_payloads.clear()
        return availability_events(self.detector, self.machine, online, received_at, ids)


def _merge(known: JsonObject, update: JsonObject) -> None:
    """Merge a partial status into the known one, and objects (aenergy) one level deep."""
    for key, value in update.items():
        current = known.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            known[key] = {**current, **value}
        else:
            known[key] = value
