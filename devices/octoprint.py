"""OctoPrint through the OctoPrint-MQTT plugin (`<base>/event/<Event>`, progress, LWT).

Format: OctoPrint/OctoPrint-MQTT `README.md` (topics, `_timestamp` in Unix
seconds, the retained LWT `<base>/mqtt` = `connected`/`disconnected`) and
docs.octoprint.org "Events" (payload keys, `time` in seconds, `reason`).

- `PrintStarted`, `PrintResumed` -> running; `PrintPaused` -> paused;
  `PrintDone` -> finished; `PrintFailed` -> failed, or cancelled when its
  `reason` is `cancelled` (OctoPrint fires it beside `PrintCancelled`);
  `PrintCancelled` -> cancelled. `time` on an ending event becomes
  `reported_busy_s`. Every other event and topic is returned as `Ignored`
  (`other_topic`), as is a progress while no print is known to run
  (`progress_while_not_printing`).
- `progress/printing` is retained, so a stale one arrives on every subscribe:
  it yields a running state with progress only while this codec has seen the
  printer running, never on its own.
- LWT `disconnected` -> offline: the plugin is gone and the printer's state is
  not known (so not running). `connected` -> unknown: reachable again,
  state known from the next event.

Times come from `_timestamp` (a real Unix time); ids from topic, `_timestamp`
and payload bytes.
"""

from __future__ import annotations

from datetime import datetime

from devices._wire import (
    JsonObject,
    availability_event_ids,
    basename,
    load_object,
    load_text,
    message_event_ids,
    require_topic_part,
    scalar_text,
    to_float,
    to_percent,
    to_text,
)
from devices.events import DecodeError, Ignored, MachineState, Result, RunState
from devices.timebase import as_utc, from_unix

_EVENT_STATES = {
    "PrintStarted": RunState.RUNNING,
    "PrintResumed": RunState.RUNNING,
    "PrintPaused": RunState.PAUSED,
    "PrintDone": RunState.FINISHED,
    "PrintFailed": RunState.FAILED,
    "PrintCancelled": RunState.CANCELLED,
}
_ENDINGS = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CANCELLED})


class OctoPrintCodec:
    """Decodes one OctoPrint instance's MQTT plugin topics into machine states."""

    def __init__(self, machine: str, base_topic: str = "octoPrint") -> None:
        self.machine = machine
        self.base_topic = require_topic_part("OctoPrint base topic", base_topic, allow_slash=True)
        self._state: RunState | None = None
        self._job: str | None = None

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Return the state one plugin message reports, if it reports one."""
        prefix = self.base_topic + "/"
        if not topic.startswith(prefix):
            reason = f"not under OctoPrint base topic {self.base_topic}"
            return [DecodeError(topic, reason, payload)]
        rest = topic[len(prefix) :]
        if rest == "mqtt":
            return self._availability(topic, payload, received_at)
        if rest == "progress/printing":
            return self._progress(topic, payload, received_at)
        if rest.startswith("event/") and rest[len("event/") :] in _EVENT_STATES:
            return self._event(rest[len("event/") :], topic, payload, received_at)
        return [Ignored(topic, "other_topic")]  # temperatures, slicing progress, other events

    def _event(self, name: str, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """A print lifecycle event."""
        message = load_object(topic, payload)
        if isinstance(message, DecodeError):
            return [message]
        state = _EVENT_STATES[name]
        reason = to_text(message.get("reason"))
        if state is RunState.FAILED and reason is not None and reason.lower() == "cancelled":
            state = RunState.CANCELLED
        job = _job_name(message)
        if name == "PrintStarted":
            self._job = job
        job = job or self._job
        self._state = state
        busy = to_float(message.get("time")) if state in _ENDINGS else None
        ids = _event_ids(topic, message, payload, received_at)
        return [
            MachineState(
                machine=self.machine,
                state=state,
                at=from_unix(message.get("_timestamp"), received_at),
                event_id=ids[0],
                fingerprint=ids[1],
                job=job,
                reported_busy_s=busy if busy is not None and busy >= 0 else None,
            )
        ]

    def _progress(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Progress of the current print, only believed while a print is known to run."""
        message = load_object(topic, payload)
        if isinstance(message, DecodeError):
            return [message]
        if self._state is not RunState.RUNNING:
            return [Ignored(topic, "progress_while_not_printing")]
        progress = to_percent(message.get("progress"))
        if progress is None:
            return [DecodeError(topic, "progress is not a percentage", payload)]
        ids = _event_ids(topic, message, payload, received_at)
        return [
            MachineState(
                machine=self.machine,
                state=RunState.RUNNING,
                at=from_unix(message.get("_timestamp"), received_at),
                event_id=ids[0],
                fingerprint=ids[1],
                job=self._job or basename(to_text(message.get("path"))),
                progress=progress,
            )
        ]

    def _availability(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """The plugin's retained LWT."""
        word = (load_text(payload) or "").lower()
        if word == "disconnected":
            state = RunState.OFFLINE
        elif word == "connected":
            state = RunState.UNKNOWN
        else:
            return [DecodeError(topic, "LWT is neither connected nor disconnected", payload)]
        self._state = state
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


def _job_name(message: JsonObject) -> str | None:
    """The file name of the job, from the keys current and older plugin versions send."""
    for key in ("name", "filename"):
        name = to_text(message.get(key))
        if name is not None:
            return name
    for key in ("path", "file"):
        name = basename(to_text(message.get(key)))
        if name is not None:
            return name
    return None


def _event_ids(
    topic: str, message: JsonObject, payload: bytes, received_at: datetime
) -> tuple[str, str | None]:
    """Id from topic, the plugin's `_timestamp` and the payload bytes (timeless without it)."""
    device_time = scalar_text(message.get("_timestamp"))
    return message_event_ids(topic, device_time, payload, as_utc(received_at))
