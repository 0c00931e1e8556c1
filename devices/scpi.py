"""SCPI instruments on a serial line: identity, and run state from a polled status query.

Follows IEEE 488.2 (``*IDN?``: four comma-separated fields, maker, model,
serial, firmware; ``*OPC?``; ``*STB?``: the status byte in decimal, bit 7 = 128
being the operation status summary) and SCPI-99 (``STATus:OPERation:CONDition?``:
a decimal bit mask whose meaning the vendor fills in). Answers end with LF,
CR LF or CR; numbers may carry a sign (``+0``) or be written as an integral
real (``+1.000E+00``).

Busy rule, per query:

- ``*OPC?``: ``1`` means all operations are complete (idle), ``0`` busy.
- ``*STB?``: bit 7 (128) set means busy.
- ``STAT:OPER:COND?``: busy when any bit of `busy_mask` is set. The default
  mask holds SCPI-99's SWEeping (bit 3), MEASuring (bit 4) and PROGram running
  (bit 14); instruments that map their own bits there take another mask.

Busy is reported as running, not busy as idle, and only changes are emitted:
an answer that changes nothing is `Ignored` (``unchanged``), as are an identity
answer, kept in `idn` (``identity``), and a blank line (``blank``).
Event ids derive from the machine, the receive time and a running count of
answers decoded, independent of read sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from devices.events import DecodeError, Ignored, MachineState, Result, RunState
from devices.ids import derive_event_id
from devices.linebuffer import LineBuffer, OverlongLine
from devices.timebase import as_utc

QUERIES: Final = ("*OPC?", "*STB?", "STAT:OPER:COND?")
DEFAULT_BUSY_MASK: Final = 1 << 3 | 1 << 4 | 1 << 14

_LONG_FORMS: Final = {"STATUS:OPERATION:CONDITION?": "STAT:OPER:COND?"}
_MAX_LINE = 256
_INTEGER = re.compile(r"[+-]?\d{1,12}")
_INTEGRAL_REAL = re.compile(r"[+-]?\d{1,12}(?:\.\d{0,12})?(?:[eE][+-]?\d{1,3})?")
_LIMITS: Final = {"*OPC?": 1, "*STB?": 0xFF, "STAT:OPER:COND?": 0xFFFF_FFFF}


@dataclass(frozen=True, slots=True)
class Idn:
    """An instrument's identity, as its ``*IDN?`` answer gives it."""

    maker: str
    model: str
    serial: str
    firmware: str


def parse_idn(line: str | bytes) -> Idn | None:
    """Read an ``*IDN?`` answer, or None if it is not four fields with a maker and model."""
    if isinstance(line, bytes):
        line = line.decode("ascii", errors="replace")
    fields = [field.strip() for field in line.strip().split(",")]
    if len(fields) != 4 or not fields[0] or not fields[1]:
        return None
    return Idn(*fields)


def _integer(text: str) -> int | None:
    if _INTEGER.fullmatch(text):
        return int(text)
    if _INTEGRAL_REAL.fullmatch(text):
        value = float(text)
        if value.is_integer():
            return int(value)
    return None


class ScpiCodec:
    """Reads one instrument's answers to a polled status query as running/idle changes."""

    def __init__(
        self, machine: str, query: str = "STAT:OPER:COND?", busy_mask: int = DEFAULT_BUSY_MASK
    ) -> None:
        canonical = _LONG_FORMS.get(query.strip().upper(), query.strip().upper())
        if canonical not in QUERIES:
            raise ValueError(f"unsupported status query {query!r}; expected one of {QUERIES}")
        if not 0 < busy_mask <= _LIMITS["STAT:OPER:COND?"]:
            raise ValueError("busy_mask must select at least one of the 32 condition bits")
        self.machine = machine
        self.query = canonical
        self.busy_mask = busy_mask
        self.state: RunState | None = None
        self.idn: Idn | None = None
        self._lines = LineBuffer(_MAX_LINE)
        self._answers_decoded = 0

    def poll(self) -> bytes:
        """The query line to send once per poll interval."""
        return f"{self.query}\n".encode("ascii")

    def feed(self, data: bytes, received_at: datetime) -> list[Result]:
        """Consume the next bytes read from the instrument and return the state changes."""
        at = as_utc(received_at)
        out: list[Result] = []
        for line in self._lines.feed(data):
            if isinstance(line, OverlongLine):
                out.append(DecodeError(self.machine, "answer too long", line.raw))
                continue
            out.append(self._answer(line, at))
        return out

    def _answer(self, raw: bytes, at: datetime) -> Result:
        text = raw.decode("ascii", errors="replace").strip()
        if not text:
            return Ignored(self.machine, "blank")
        value = _integer(text)
        if value is None:
            idn = parse_idn(text)
            if idn is not None:
                self.idn = idn
                return Ignored(self.machine, "identity")
            return DecodeError(self.machine, f"not an answer to {self.query}", raw)
        if not 0 <= value <= _LIMITS[self.query]:
            return DecodeError(self.machine, f"{self.query} answer out of range", raw)
        self._answers_decoded += 1
        if self.query == "*OPC?":
            busy = value == 0
        elif self.query == "*STB?":
            busy = bool(value & 0x80)
        else:
            busy = bool(value & self.busy_mask)
        state = RunState.RUNNING if busy else RunState.IDLE
        if state == self.state:
            return Ignored(self.machine, "unchanged")
        self.state = state
        content = f"{self._answers_decoded}:{state}".encode()
        event_id = derive_event_id(self.machine, at.isoformat(), content)
        return MachineState(self.machine, state, at, event_id)
