"""Klipper printers through Moonraker's MQTT component (`<instance>/klipper/status`).

Format: Arksine/moonraker `docs/configuration.md` (`[mqtt]`: status updates
carry only changed objects and fields; the retained `<instance>/moonraker/status`
`{"server": "online"}` with LWT `{"server": "offline"}`), `components/mqtt.py`,
and `docs/printer_objects.md` (`print_stats` fields and states).

- `print_stats` deltas are merged into the last known `print_stats`.
- `state`: `standby` -> idle, `printing` -> running, `paused` -> paused,
  `complete` -> finished, `error` -> failed, `cancelled` -> cancelled; an
  unlisted state -> unknown. `standby` straight after printing or paused, with
  no ending in between, means the job was reset without ending -> interrupted
  (not a user's cancel, which Klipper reports as `cancelled`).
- Ending events carry Klipper's own `print_duration` (busy time, pauses
  excluded) as `reported_busy_s` and `filament_used` (mm) as `material`.
- Progress (percent) comes from `display_status.progress` or
  `virtual_sdcard.progress` (0..1) when subscribed; while running, a change of
  a whole percent emits a state with it, finer steps would only add noise.
- `server` `offline` -> offline; `online` -> unknown until the next status.

A status that yields no event is returned as `Ignored`: `awaiting_print_stats`
(no `print_stats` seen yet) or `unchanged` (same state, progress moved less
than a whole percent).

`eventtime` is Klipper's monotonic clock, not wall time: events are timed at
receipt (`devices.timebase`), and `eventtime` only feeds the derived id.
"""

from __future__ import annotations

from datetime import datetime

from devices._wire import (
    JsonObject,
    availability_event_ids,
    basename,
    load_object,
    message_event_ids,
    require_topic_part,
    scalar_text,
    to_float,
    to_percent,
    to_text,
)
from devices.events import DecodeError, Ignored, MachineState, Result, RunState
from devices.timebase import as_utc

_STATES = {
    "standby": RunState.IDLE,
    "printing": RunState.RUNNING,
    "paused": RunState.PAUSED,
    "complete": RunState.FINISHED,
    "error": RunState.FAILED,
    "cancelled": RunState.CANCELLED,
}
_ACTIVE = frozenset({RunState.RUNNING, RunState.PAUSED})
_ENDINGS = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED})


class MoonrakerCodec:
    """Decodes one Moonraker instance's status topics, keeping the merged `print_stats`."""

    def __init__(self, machine: str, instance: str) -> None:
        self.machine = machine
        self.instance = require_topic_part("Moonraker instance", instance, allow_slash=True)
        self.status_topic = f"{instance}/klipper/status"
        self.server_topic = f"{instance}/moonraker/status"
        self._print_stats: JsonObject = {}
        self._raw_state: str | None = None
        self._state: RunState | None = None
        self._progress: float | None = None

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Return the state change (or running progress step) one message brings."""
        if topic not in (self.status_topic, self.server_topic):
            return [DecodeError(topic, f"not a status topic of {self.instance}", payload)]
        message = load_object(topic, payload)
        if isinstance(message, DecodeError):
            return [message]
        if topic == self.server_topic:
            return self._server(topic, message, payload, received_at)
        status = message.get("status")
        if not isinstance(status, dict):
            return [DecodeError(topic, "'status' is not an object", payload)]
        stats = status.get("print_stats")
        if isinstance(stats, dict):
            self._print_stats.update(stats)
        elif stats is not None:
            return [DecodeError(topic, "'print_stats' is not an object", payload)]
        progress = _progress(status)
        ids = message_event_ids(
            topic, scalar_text(message.get("eventtime")), payload, as_utc(received_at)
        )
        return self._changes(progress, ids, as_utc(received_at))

    def _changes(
        self, progress: float | None, ids: tuple[str, str | None], at: datetime
    ) -> list[Result]:
        """The event the merged status calls for, if any."""
        raw_state = to_text(self._print_stats.get("state"))
        if raw_state is None:
            return [Ignored(self.status_topic, "awaiting_print_stats")]
        progress_moved = progress is not None and _whole(progress) != _whole(self._progress)
        state: RunState | None
        if raw_state != self._raw_state:
            self._raw_state = raw_state
            state = _STATES.get(raw_state.lower(), RunState.UNKNOWN)
            if state is RunState.IDLE and self._state in _ACTIVE:
                state = RunState.INTERRUPTED
            if state is RunState.RUNNING and self._state not in _ACTIVE:
                self._progress = progress  # a new job: the last job's progress no longer applies
        elif self._state is RunState.RUNNING and progress_moved:
            state = RunState.RUNNING
        else:
            state = None
        if progress is not None:
            self._progress = progress
        if state is None:
            return [Ignored(self.status_topic, "unchanged")]
        self._state = state
        ending = state in _ENDINGS
        busy = to_float(self._print_stats.get("print_duration")) if ending else None
        material = to_float(self._print_stats.get("filament_used")) if ending else None
        return [
            MachineState(
                machine=self.machine,
                state=state,
                at=at,
                event_id=ids[0],
                fingerprint=ids[1],
                job=basename(to_text(self._print_stats.get("filename"))),
                progress=self._progress if state in _ACTIVE else None,
                reported_busy_s=busy if busy is not None and busy >= 0 else None,
                material=material if material is not None and material >= 0 else None,
            )
        ]

    def _server(
        self, topic: str, message: JsonObject, payload: bytes, received_at: datetime
    ) -> list[Result]:
        """Moonraker's retained availability and its LWT."""
        server = to_text(message.get("server"))
        if server == "offline":
            state = RunState.OFFLINE
        elif server == "online":
            state = RunState.UNKNOWN
        else:
            return [DecodeError(topic, "'server' is neither online nor offline", payload)]
        # Klipper's next status re-establishes the state, even if unchanged.
        self._state = state
        self._raw_state = None
        at = as_utc(received_at)
        event_id, fingerprint = availability_event_ids(topic, payload, at)
        return [
            MachineState(
                machine=self.machine,
                state=state,
                at=at,
                event_id=event_id,
                fingerprint=fingerprint,
            )
        ]


def _progress(status: JsonObject) -> float | None:
    """Print progress in percent from whichever progress object the status carries."""
    for name in ("display_status", "virtual_sdcard"):
        section = status.get(name)
        if isinstance(section, dict):
            progress = to_percent(section.get("progress"), scale=100.0)
            if progress is not None:
                return progress
    return None


def _whole(progress: float | None) -> int | None:
    """Progress to the whole percent, the step at which it is worth an event."""
    return None if progress is None else int(progress)
