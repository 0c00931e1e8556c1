"""A bounded splitter of serial byte streams into lines, shared by the line-based codecs.

Lines end with LF, CR LF or CR (Marlin, SCPI instruments and keyboard-wedge
readers use all three). Empty lines are dropped, so a CR and its LF arriving in
different reads never make a phantom line. A line longer than `max_line` bytes is
reported once as `OverlongLine` (with its first `max_line` bytes) and the rest of
it is skipped up to the next terminator, so garbage never grows the buffer.

Every decision depends only on the bytes seen, never on how they were split into
reads: feeding a stream in one piece or byte by byte gives the same items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TERMINATOR = re.compile(rb"[\r\n]")


@dataclass(frozen=True, slots=True)
class OverlongLine:
    """A line that exceeded the limit; `raw` is its first `max_line` bytes."""

    raw: bytes


class LineBuffer:
    """Accumulates reads and hands back complete lines, bounded to `max_line` bytes each."""

    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self._max_line = max_line
        self._partial = bytearray()
        self._skipping = False

    @property
    def pending(self) -> int:
        """Bytes held for a line not yet terminated (never more than `max_line`)."""
        return len(self._partial)

    def feed(self, data: bytes) -> list[bytes | OverlongLine]:
        """Consume one read; return the lines (without terminator) it completed."""
        out: list[bytes | OverlongLine] = []
        pieces = _TERMINATOR.split(data)
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            self._take(piece, terminated=index < last, out=out)
        return out

    def _take(self, piece: bytes, *, terminated: bool, out: list[bytes | OverlongLine]) -> None:
        if self._skipping:
            self._skipping = not terminated
            return
        self._partial += piece
        if len(self._partial) > self._max_line:
            out.append(OverlongLine(bytes(self._partial[: self._max_line])))
            self._partial.clear()
            self._skipping = not terminated
        elif terminated:
            if self._partial:
                out.append(bytes(self._partial))
            self._partial.clear()
