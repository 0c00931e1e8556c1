"""Marlin printers on a serial line: job state from the printer's own messages, and poll lines.

Strings are Marlin's own (MarlinFirmware/Marlin ``language.h``,
``cardreader.cpp``, ``M31.cpp``, ``M105.cpp``, ``host_actions.cpp``), plus Prusa
firmware's progress line. Lines end with LF, CR LF or CR.

State rules (a `MachineState` is emitted only when the state changes):

- ``//action:start`` -> running (a new job); ``//action:pause``/``paused`` ->
  paused (from running or unknown); ``//action:resume``/``resumed`` -> running
  (from paused or unknown); ``//action:cancel`` -> cancelled (from running,
  paused or unknown). ``//action:notification <text>`` is kept in
  `notification`; other host actions are ignored.
- M27 ``SD printing byte a/b`` -> running with progress ``100*a/b`` percent
  (M27 also answers so while paused: then only the progress moves).
  ``Not SD printing`` while running or paused, with no ``Done printing file``
  or cancel seen, -> finished when the last progress was 100 %, otherwise
  interrupted (the job ended and the printer did not say how: not a user's
  cancel, flagged for review by the app, as for Bambu). At start-up it gives
  idle; after an end it changes nothing.
- ``Done printing file`` -> finished with progress 100.
- ``Error:Printer halted...`` or the boot line ``start`` during a job -> failed.
- M31 ``echo:Print time: 1d 2h 3m 4s`` (Marlin's ``duration_t``: years, days,
  hours, minutes, seconds, leading zero units left out): Marlin sends it after
  ``Done printing file`` (the print timer excludes pauses), so the first M31
  after a job ends is emitted as its own event, repeating the end state with
  `reported_busy_s`; other M31 answers only update `print_time_s`.
- Busy keepalives (``echo:busy: processing``) update `busy` and `last_line_at`:
  the printer is alive, the state is unchanged.
- Temperatures (M105 answers, with or without ``ok``, and M155 auto-reports)
  are kept in `temperatures`; later readings of a heater on a line win (a real
  multi-tool capture labels the active tool ``T0:`` before the per-tool fields).
- ``Error:checksum mismatch, Last Line: 23`` is kept in `last_error`,
  ``Resend: 24`` in `resend_requested` for the poller.
- Prusa ``NORMAL MODE: Percent done: 21; print time remaining in mins: 33``
  updates `progress` and `remaining_min` only (it never starts a job).

Every line that changes no state (``ok``, temperatures, busy keepalives, a
repeated state, progress while paused, ...) is returned as `Ignored` with
reason ``no_state_change``, so it is counted, not silently dropped.

Serial lines carry no device time: event ids derive from the machine, the
receive time and a running count of lines decoded, independent of read sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Final

from devices.events import DecodeError, Ignored, MachineState, Result, RunState
from devices.ids import derive_event_id
from devices.linebuffer import LineBuffer, OverlongLine
from devices.timebase import as_utc

POLL_SD_STATUS: Final = b"M27\n"
POLL_TEMPERATURES: Final = b"M105\n"
POLL_PRINT_TIME: Final = b"M31\n"

_MAX_LINE = 256
_SD_PRINTING = re.compile(r"SD printing byte (\d+)/(\d+)")
_PRINT_TIME = re.compile(r"echo:\s*Print time:\s*(.*)")
_DURATION_PART = re.compile(r"(\d{1,9})([ydhms])")
_UNIT_SECONDS: Final = {"y": 365 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_TEMPERATURE_LINE = re.compile(r"(?:T\d*|B|C):\s*-?\d")
_TEMPERATURE = re.compile(r"(?<![\w@])([A-Z]\d*):\s*(-?\d+(?:\.\d+)?)\s*/\s*(-?\d+(?:\.\d+)?)")
_RESEND = re.compile(r"Resend:\s*(\d+)")
_PRUSA_PROGRESS = re.compile(
    r"(?:NORMAL|SILENT) MODE: Percent done: (-?\d+); print time remaining in mins: (-?\d+)"
)
_ACTIVE = frozenset({RunState.RUNNING, RunState.PAUSED})
_ENDS = frozenset({RunState.FINISHED, RunState.CANCELLED, RunState.FAILED, RunState.INTERRUPTED})


@dataclass(frozen=True, slots=True)
class HeaterReading:
    """One heater's temperature and target in degrees Celsius, as the printer reported."""

    actual: float
    target: float


def checksum_line(line_number: int, command: str) -> bytes:
    """A numbered, checksummed command line (``N3186 M105*27``), so Marlin can ask to resend."""
    if line_number < 0:
        raise ValueError("line numbers start at 0")
    if any(c in command for c in "\r\n*"):
        raise ValueError("a command is one line without '*'")
    body = f"N{line_number} {command.strip()}".encode("ascii")
    checksum = reduce(lambda a, b: a ^ b, body, 0)
    return body + f"*{checksum}\n".encode("ascii")


def parse_print_time(text: str) -> int | None:
    """Seconds of an M31 duration such as ``1d 2h 3m 4s``, or None if it is not one."""
    parts = text.split()
    if not parts:
        return None
    total = 0
    order = "ydhms"
    last = -1
    for part in parts:
        match = _DURATION_PART.fullmatch(part)
        if match is None:
            return None
        position = order.index(match.group(2))
        if position <= last:
            return None
        last = position
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return total


class MarlinCodec:
    """Follows one Marlin printer's serial output and reports its job state changes."""

    def __init__(self, machine: str) -> None:
        self.machine = machine
        self.state: RunState | None = None
        self.progress: float | None = None
        self.remaining_min: int | None = None
        self.print_time_s: int | None = None
        self.temperatures: dict[str, HeaterReading] = {}
        self.busy: str | None = None
        self.notification: str | None = None
        self.last_error: str | None = None
        self.resend_requested: int | None = None
        self.last_line_at: datetime | None = None
        self._lines = LineBuffer(_MAX_LINE)
        self._lines_decoded = 0
        self._job_ended = False

    def take_resend(self) -> int | None:
        """The line number the printer asked to resend, cleared once taken by the poller."""
        line, self.resend_requested = self.resend_requested, None
        return line

    def feed(self, data: bytes, received_at: datetime) -> list[Result]:
        """Consume the next bytes read from the printer and return the state changes."""
        at = as_utc(received_at)
        out: list[Result] = []
        for line in self._lines.feed(data):
            if isinstance(line, OverlongLine):
                out.append(DecodeError(self.machine, "line too long", line.raw))
                continue
            self._lines_decoded += 1
            self.last_line_at = at
            result = self._line(line.decode("utf-8", errors="replace").strip(), line, at)
            out.append(result if result is not None else Ignored(self.machine, "no_state_change"))
        return out

    def _event(
        self, state: RunState, at: datetime, busy_s: int | None = None
    ) -> MachineState | None:
        if busy_s is None and state == self.state:
            return None
        if state in _ACTIVE:
            self._job_ended = self._job_ended and self.state in _ACTIVE
        elif busy_s is None and (state in _ENDS or self.state in _ACTIVE):
            self._job_ended = True
        self.state = state
        content = f"{self._lines_decoded}:{state}:{self.progress}:{busy_s}".encode()
        event_id = derive_event_id(self.machine, at.isoformat(), content)
        busy = None if busy_s is None else float(busy_s)
        return MachineState(
            self.machine, state, at, event_id, progress=self.progress, reported_busy_s=busy
        )

    def _line(self, text: str, raw: bytes, at: datetime) -> Result | None:
        if text == "ok" or text.startswith("ok "):
            text = text[2:].strip()
        if text.startswith("//action:"):
            return self._action(text[len("//action:") :].strip(), at)
        if text == "Not SD printing":
            return self._not_printing(at)
        if text == "Done printing file":
            if self.state in (RunState.CANCELLED, RunState.FAILED):
                return None
            self.progress = 100.0
            return self._event(RunState.FINISHED, at)
        if text.startswith("echo:busy:"):
            self.busy = text[len("echo:busy:") :].strip()
            return None
        if text == "start" or "Printer halted" in text or "kill() called" in text:
            if text.startswith("Error:"):
                self.last_error = text[len("Error:") :].strip()
            return self._event(RunState.FAILED, at) if self.state in _ACTIVE else None
        if text.startswith("Error:"):
            self.last_error = text[len("Error:") :].strip()
            return None
        if _TEMPERATURE_LINE.match(text):
            self.temperatures = {
                key: HeaterReading(float(actual), float(target))
                for key, actual, target in _TEMPERATURE.findall(text)
            }
            return None
        if match := _SD_PRINTING.match(text):
            return self._sd_printing(match, raw, at)
        if match := _PRINT_TIME.match(text):
            return self._print_time(match, raw, at)
        if match := _RESEND.match(text):
            self.resend_requested = int(match.group(1))
        elif match := _PRUSA_PROGRESS.match(text):
            self._prusa_progress(match)
        return None

    def _action(self, action: str, at: datetime) -> MachineState | None:
        name, _, rest = action.partition(" ")
        if name == "notification":
            self.notification = rest.strip()
            return None
        if name == "start":
            if self.state not in _ACTIVE:
                self.progress = None
            return self._event(RunState.RUNNING, at)
        if name in ("pause", "paused") and self.state in (RunState.RUNNING, None):
            return self._event(RunState.PAUSED, at)
        if name in ("resume", "resumed") and self.state in (RunState.PAUSED, None):
            return self._event(RunState.RUNNING, at)
        if name == "cancel" and self.state in (RunState.RUNNING, RunState.PAUSED, None):
            return self._event(RunState.CANCELLED, at)
        return None

    def _not_printing(self, at: datetime) -> MachineState | None:
        if self.state is None:
            return self._event(RunState.IDLE, at)
        if self.state in _ACTIVE:
            done = self.progress is not None and self.progress >= 100
            return self._event(RunState.FINISHED if done else RunState.INTERRUPTED, at)
        return None

    def _sd_printing(self, match: re.Match[str], raw: bytes, at: datetime) -> Result | None:
        position, size = int(match.group(1)), int(match.group(2))
        if position > size:
            return DecodeError(self.machine, "SD position past the end of the file", raw)
        self.progress = round(100 * position / size, 2) if size else None
        if self.state == RunState.PAUSED:
            return None
        return self._event(RunState.RUNNING, at)

    def _print_time(self, match: re.Match[str], raw: bytes, at: datetime) -> Result | None:
        seconds = parse_print_time(match.group(1))
        if seconds is None:
            return DecodeError(self.machine, "unreadable M31 print time", raw)
        self.print_time_s = seconds
        if self._job_ended and self.state is not None and self.state not in _ACTIVE:
            self._job_ended = False
            return self._event(self.state, at, busy_s=seconds)
        return None

    def _prusa_progress(self, match: re.Match[str]) -> None:
        percent, remaining = int(match.group(1)), int(match.group(2))
        if 0 <= percent <= 100:
            self.progress = float(percent)
        self.remaining_min = remaining if remaining >= 0 else None
