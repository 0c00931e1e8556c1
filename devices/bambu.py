"""Bambu Lab printers over their local MQTT (`device/<serial>/report`).

Format: Doridian/OpenBambuAPI `mqtt.md` (topics, `push_status` reports, the
`pushall` request) and greghesp/ha-bambulab `pybambu/const.py` (`gcode_state`
values). Reports may be partial, so each is merged into the last known state.

`gcode_state` to `RunState`, decided when `gcode_state` changes:

- `PREPARE`, `RUNNING` -> running; `PAUSE` -> paused; `FINISH` -> finished.
- `FAILED` -> failed, except with a user-cancel `print_error` (HMS `0300_400C`
  "The task was canceled." or `0500_400E` "Printing was cancelled.", from the
  ha-bambulab error table): Bambu reports a stop as `FAILED` -> cancelled.
- `IDLE`, `SLICING`, `INIT` straight after running or paused, with no terminal
  state in between: the job ended abnormally (stopped without a report, power
  cut mid-print) -> interrupted, which is not a user's cancel (that comes as
  `FAILED` with a cancel error) and is flagged for review by the app. Otherwise
  `IDLE` -> idle, and `SLICING` (cloud slicing before a job) and `INIT`
  (booting) -> idle, as no job runs yet.
- `OFFLINE` -> offline; `UNKNOWN` and anything unlisted -> unknown.

A status report is a `print` object whose `command` is `push_status`, or that
has no `command` at all (firmware and relays that leave it out): it is merged.
Every message that yields no event is returned as `Ignored`, with reason
`own_request` (our `pushall` on `device/<serial>/request`), `no_print_report`
(`info`, `system`, `mc_print` messages), `command_reply` (a `print` object with
another `command`: replies to pause, gcode_line, ...), `awaiting_full_report`
(deltas before the first `gcode_state`) or `unchanged` (no state change, and no
progress change while running).

The job is `subtask_name`, else the file name of `gcode_file`; an ending keeps
the name the run had. A `MachineState` is emitted when the mapped state
changes, and while running also when `mc_percent` changes, because the app
shows live progress. Reports carry no device clock: events are timed at
receipt. `print_error` has no field on `MachineState`; it serves only to tell
a cancel from a failure.

Ids: `sequence_id` restarts with the printer and reports carry no time, so no
payload field is unique: ids are timeless (`devices.ids.timeless_event_ids`),
the receive time in the id and the topic and exact payload bytes (which a
redelivery repeats) in the fingerprint.
"""

from __future__ import annotations

import json
from datetime import datetime

from devices._wire import (
    JsonObject,
    basename,
    load_object,
    require_topic_part,
    to_int,
    to_percent,
    to_text,
)
from devices.events import DecodeError, Ignored, MachineState, Result, RunState
from devices.ids import timeless_event_ids
from devices.timebase import as_utc

# print_error codes Bambu sends when a person stops the job (0300_400C, 0500_400E).
USER_CANCEL_ERRORS = frozenset({0x0300400C, 0x0500400E})

_DIRECT_STATES = {
    "PREPARE": RunState.RUNNING,
    "RUNNING": RunState.RUNNING,
    "PAUSE": RunState.PAUSED,
    "FINISH": RunState.FINISHED,
    "OFFLINE": RunState.OFFLINE,
}
_RESTING_STATES = frozenset({"IDLE", "SLICING", "INIT"})
_ACTIVE = frozenset({RunState.RUNNING, RunState.PAUSED})
_ENDINGS = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED})


class BambuCodec:
    """Decodes one Bambu printer's reports, keeping the merged state between messages."""

    def __init__(self, machine: str, serial: str) -> None:
        self.machine = machine
        self.serial = require_topic_part("Bambu serial", serial, allow_slash=False)
        self.report_topic = f"device/{serial}/report"
        self.request_topic = f"device/{serial}/request"
        self._report: JsonObject = {}
        self._gcode_state: str | None = None
        self._state: RunState | None = None
        self._progress: float | None = None
        self._job: str | None = None

    def pushall_request(self) -> tuple[str, bytes]:
        """The request that makes the printer send a full report, sent on every (re)connect."""
        payload = {"pushing": {"sequence_id": "0", "command": "pushall"}}
        return self.request_topic, json.dumps(payload).encode()

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Merge one report and return the state change or progress it brings, if any."""
        if topic == self.request_topic:
            return [Ignored(topic, "own_request")]  # seen when subscribed to device/<serial>/#
        if topic != self.report_topic:
            return [DecodeError(topic, f"not a report topic of printer {self.serial}", payload)]
        message = load_object(topic, payload)
        if isinstance(message, DecodeError):
            return [message]
        report = message.get("print")
        if report is None:
            return [Ignored(topic, "no_print_report")]  # info / system / mc_print
        if not isinstance(report, dict):
            return [DecodeError(topic, "'print' is not an object", payload)]
        command = report.get("command")
        if command is not None and command != "push_status":
            return [Ignored(topic, "command_reply")]  # replies to pause, gcode_line, ...
        self._report.update(report)
        ids = timeless_event_ids(topic, payload, as_utc(received_at))
        return self._changes(ids, as_utc(received_at))

    def _changes(self, ids: tuple[str, str], at: datetime) -> list[Result]:
        """The event the merged report calls for, if its state or running progress moved."""
        gcode_state = to_text(self._report.get("gcode_state"))
        if gcode_state is None:
            return [Ignored(self.report_topic, "awaiting_full_report")]  # deltas before pushall
        gcode_state = gcode_state.upper()
        progress = to_percent(self._report.get("mc_percent"))
        job = to_text(self._report.get("subtask_name")) or basename(
            to_text(self._report.get("gcode_file"))
        )
        if gcode_state != self._gcode_state:
            self._gcode_state = gcode_state
            state = self._map_state(gcode_state)
        elif self._state is RunState.RUNNING and progress != self._progress:
            state = RunState.RUNNING
        else:
            return [Ignored(self.report_topic, "unchanged")]
        if state in _ACTIVE:
            self._job = job if self._state not in _ACTIVE else job or self._job
        elif state in _ENDINGS:
            job = self._job or job  # the name the run had, even if the report cleared it
        else:
            self._job = None
        self._state = state
        self._progress = progress
        return [
            MachineState(
                machine=self.machine,
                state=state,
                at=at,
                event_id=ids[0],
                fingerprint=ids[1],
                job=job if state is not RunState.IDLE else None,
                progress=progress if state is not RunState.IDLE else None,
            )
        ]

    def _map_state(self, gcode_state: str) -> RunState:
        """Map a new `gcode_state`, using the previous state to spot abnormal ends."""
        if gcode_state in _DIRECT_STATES:
            return _DIRECT_STATES[gcode_state]
        if gcode_state == "FAILED":
            error = to_int(self._report.get("print_error"))
            return RunState.CANCELLED if error in USER_CANCEL_ERRORS else RunState.FAILED
        if gcode_state in _RESTING_STATES:
            return RunState.INTERRUPTED if self._state in _ACTIVE else RunState.IDLE
        return RunState.UNKNOWN
