"""What the bridge writes to devices that must be asked: Marlin printers and SCPI instruments.

Marlin: every poll asks ``M27`` (SD print status) and ``M105`` (temperatures)
as numbered, checksummed lines, after ``M110 N0`` resets the numbering when the
port opens, so the printer can spot a corrupted line and ask for it again
(``Resend: n``: the lines from n on are resent). After a job ends ``M31`` asks
for the print time the printer measured, which the codec reports with the end.

SCPI: ``*IDN?`` once when the port opens (kept by the codec for the status),
then the codec's status query every poll.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Protocol

from devices.events import MachineState, Result, RunState
from devices.marlin import MarlinCodec, checksum_line
from devices.scpi import ScpiCodec

HISTORY: Final = 64
_ACTIVE: Final = frozenset({RunState.RUNNING, RunState.PAUSED})


class Poller(Protocol):
    """The lines to write to a device: when its port opens, every poll, and after it spoke."""

    def on_open(self) -> list[bytes]:
        """Lines to write right after the port opens."""
        ...

    def poll(self) -> list[bytes]:
        """Lines to write every poll interval."""
        ...

    def after(self, results: list[Result]) -> list[bytes]:
        """Lines to write in answer to what the device just said."""
        ...


class SilentPoller:
    """For devices that speak unasked (badge readers)."""

    def on_open(self) -> list[bytes]:
        """Nothing."""
        return []

    def poll(self) -> list[bytes]:
        """Nothing."""
        return []

    def after(self, results: list[Result]) -> list[bytes]:
        """Nothing."""
        return []


class MarlinPoller:
    """Numbered, checksummed Marlin polls, with resends and the print time after a job."""

    def __init__(self, codec: MarlinCodec) -> None:
        self._codec = codec
        self._next_line = 0
        self._sent: deque[tuple[int, bytes]] = deque(maxlen=HISTORY)

    def _line(self, command: str) -> bytes:
        """The next numbered line, kept for a resend."""
        line = checksum_line(self._next_line, command)
        self._sent.append((self._next_line, line))
        self._next_line += 1
        return line

    def on_open(self) -> list[bytes]:
        """Reset the printer's line numbering (``N0 M110 N0``)."""
        self._next_line = 0
        self._sent.clear()
        return [self._line("M110 N0")]

    def poll(self) -> list[bytes]:
        """SD print status and temperatures."""
        return [self._line("M27"), self._line("M105")]

    def after(self, results: list[Result]) -> list[bytes]:
        """Resend what the printer asked for; ask the print time once a job has ended."""
        out: list[bytes] = []
        resend = self._codec.take_resend()
        if resend is not None:
            lines = [line for number, line in self._sent if number >= resend]
            out.extend(lines if lines else self.on_open())
        ended = any(
            isinstance(r, MachineState) and r.state not in _ACTIVE and r.reported_busy_s is None
            for r in results
        )
        if ended:
            out.append(self._line("M31"))
        return out


class ScpiPoller:
    """The identity once, then the codec's status query."""

    def __init__(self, codec: ScpiCodec) -> None:
        self._codec = codec

    def on_open(self) -> list[bytes]:
        """Ask who the instrument is."""
        return [b"*IDN?\n"]

    def poll(self) -> list[bytes]:
        """The status query."""
        return [self._codec.poll()]

    def after(self, results: list[Result]) -> list[bytes]:
        """Nothing: SCPI answers need no reply."""
        return []
