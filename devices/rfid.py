"""Badge readers: the canonical badge id, and a stream codec for serial RFID readers.

Canonical badge id (one card enrols once, whatever reader read it)
------------------------------------------------------------------
The number printed on most 125 kHz cards is the decimal of the low 32 bits of
the 40-bit EM4100 id, written as 10 digits with leading zeros. That is the
canonical form of an EM card: RDM6300 frame data ``0F00C2E0A5``, the
keyboard-wedge line ``0012771493`` and Wiegand-26 facility 194 / card 57509
(``facility << 16 | card``) all give ``"0012771493"``. Wiegand 26 carries only
24 bits, so a card whose bits 24..31 are not all zero reads differently over
Wiegand (those bits are lost): enrol such a card from the Wiegand reader too.

Cards of other families (13.56 MHz MIFARE, NTAG, DESFire, ISO 15693) have a
4, 7, 8 or 10 byte UID; their canonical form is ``"uid:"`` and the UID in
upper-case hex (``"uid:04A1B2C3D4E5F6"``), which never collides with an EM
number.

`normalise_badge` reads an id typed by a person or sent over HTTP or lab/v1
MQTT, after stripping surrounding white space:

1. ``uid:`` (any case) then a 4, 7, 8 or 10 byte hex UID -> that UID.
2. Only ASCII digits -> a decimal card number; it must be below 2**32.
   This rule comes first: an 8 or 14 hex digit UID made only of digits is read
   as decimal, so such a UID must be written with separators or ``uid:``.
3. Hex, either plain (even length) or as byte pairs joined by one kind of
   separator (``:``, ``-`` or space): 5 bytes are EM4100 data (low 32 bits ->
   decimal form); 4, 7, 8 or 10 bytes are a UID; any other length is not a badge.
4. Anything else is not a badge id (``None``).

`normalise_badge` is idempotent: a canonical id normalises to itself.

Reader protocols of `RfidReaderCodec`
-------------------------------------
- ``rdm6300``: STX (0x02), 10 ASCII hex data, 2 ASCII hex checksum (XOR of the
  5 data bytes), ETX (0x03) (esphome ``components/rdm6300/rdm6300.cpp``).
- ``id12la``: ID-12LA / ID-20LA ASCII mode, the same then CR LF before ETX;
  the CR and the LF are each optional.
- ``wedge``: keyboard-wedge readers seen as a serial line: one id per line
  (CR, LF or CR LF), read with `normalise_badge`.
- ``wiegand26``: H10301 bits from a Wiegand-to-serial bridge, one line of 26
  ``0``/``1``: even parity over the first 12 bits, 8-bit facility, 16-bit card,
  odd parity over the last 12.

A card held on the reader repeats its frame: a badge read again within
`debounce_s` of its previous read (by receive time) is returned as `Ignored`
(``held_card``), counted but not a scan. Serial lines
carry no device time and no redelivery, so event ids derive from the reader,
the receive time and a per-codec running count of frames decoded; they do not
depend on how the stream was split into reads.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import reduce
from typing import Final

from devices.events import BadgeScan, DecodeError, Ignored, Result
from devices.ids import derive_event_id
from devices.linebuffer import LineBuffer, OverlongLine
from devices.timebase import as_utc

UID_PREFIX: Final = "uid:"
UID_BYTE_LENGTHS: Final = frozenset({4, 7, 8, 10})
EM4100_BYTES: Final = 5
PROTOCOLS: Final = ("rdm6300", "id12la", "wedge", "wiegand26")

_MAX_BADGE_TEXT = 64
_DECIMAL = re.compile(r"[0-9]+")
_HEX_PLAIN = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_HEX_SEPARATED = re.compile(r"[0-9A-Fa-f]{2}([:\- ])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2})*")
_WIEGAND26 = re.compile(r"[01]{26}")

_STX = 0x02
_HEX_BYTES = frozenset(b"0123456789ABCDEFabcdef")
_FRAME_CHARS = 12  # 10 data + 2 checksum
_TRAILERS: Final = {
    "rdm6300": (b"\x03",),
    "id12la": (b"\r\n\x03", b"\r\x03", b"\n\x03", b"\x03"),
}
_NOISE_BLOCK = 64
_MAX_LINE = 64
_PRUNE_AT = 256


def badge_from_em4100(data: bytes) -> str:
    """Canonical id of an EM4100 card from its 5 data bytes (the printed card number)."""
    if len(data) != EM4100_BYTES:
        raise ValueError("EM4100 data is 5 bytes")
    return f"{int.from_bytes(data[1:], 'big'):010d}"


def badge_from_wiegand26(facility: int, card: int) -> str:
    """Canonical id of a card read over Wiegand 26 (facility and card number)."""
    if not 0 <= facility < 1 << 8 or not 0 <= card < 1 << 16:
        raise ValueError("Wiegand 26 has an 8-bit facility and a 16-bit card number")
    return f"{facility << 16 | card:010d}"


def _hex_bytes(text: str) -> bytes | None:
    if _HEX_PLAIN.fullmatch(text):
        return bytes.fromhex(text)
    match = _HEX_SEPARATED.fullmatch(text)
    if match:
        return bytes.fromhex(text.replace(match.group(1), ""))
    return None


def normalise_badge(text: str) -> str | None:
    """Canonical badge id of an id typed or sent by a client, or None if it is not one."""
    text = text.strip()
    if len(text) > _MAX_BADGE_TEXT:
        return None
    if text[: len(UID_PREFIX)].lower() == UID_PREFIX:
        uid = _hex_bytes(text[len(UID_PREFIX) :])
        if uid is None or len(uid) not in UID_BYTE_LENGTHS:
            return None
        return UID_PREFIX + uid.hex().upper()
    if _DECIMAL.fullmatch(text):
        number = int(text)
        return f"{number:010d}" if number < 1 << 32 else None
    raw = _hex_bytes(text)
    if raw is None:
        return None
    if len(raw) == EM4100_BYTES:
        return badge_from_em4100(raw)
    if len(raw) in UID_BYTE_LENGTHS:
        return UID_PREFIX + raw.hex().upper()
    return None


def _wiegand26_badge(bits: str) -> str | None:
    if bits[:13].count("1") % 2 != 0 or bits[13:].count("1") % 2 != 1:
        return None
    return badge_from_wiegand26(int(bits[1:9], 2), int(bits[9:25], 2))


class RfidReaderCodec:
    """Turns the byte stream of one serial badge reader into debounced `BadgeScan`s."""

    def __init__(self, reader: str, protocol: str, debounce_s: float = 2.0) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown RFID protocol {protocol!r}; expected one of {PROTOCOLS}")
        if not debounce_s >= 0:
            raise ValueError("debounce_s must be zero or more")
        self.reader = reader
        self.protocol = protocol
        self._debounce_s = debounce_s
        self._buffer = bytearray()
        self._lines = LineBuffer(_MAX_LINE)
        self._frames_decoded = 0
        self._last_read: dict[str, datetime] = {}

    def feed(self, data: bytes, received_at: datetime) -> list[Result]:
        """Consume the next bytes read from the reader and return the scans they complete."""
        at = as_utc(received_at)
        decoded = self._feed_frames(data) if self.protocol in _TRAILERS else self._feed_lines(data)
        out: list[Result] = []
        for item in decoded:
            if isinstance(item, DecodeError):
                out.append(item)
                continue
            self._frames_decoded += 1
            if self._held(item, at):
                out.append(Ignored(self.reader, "held_card"))
                continue
            content = f"{self._frames_decoded}:{item}".encode()
            event_id = derive_event_id(self.reader, at.isoformat(), content)
            out.append(BadgeScan(self.reader, item, at=at, event_id=event_id))
        return out

    def _error(self, reason: str, raw: bytes) -> DecodeError:
        return DecodeError(self.reader, reason, raw)

    def _held(self, badge: str, at: datetime) -> bool:
        previous = self._last_read.get(badge)
        self._last_read[badge] = at
        if len(self._last_read) > _PRUNE_AT:
            self._last_read = {
                b: t
                for b, t in self._last_read.items()
                if abs((at - t).total_seconds()) < self._debounce_s
            }
        return previous is not None and abs((at - previous).total_seconds()) < self._debounce_s

    def _feed_frames(self, data: bytes) -> list[str | DecodeError]:
        buf = self._buffer
        buf += data
        out: list[str | DecodeError] = []
        i = 0
        while True:
            start = buf.find(_STX, i)
            end = len(buf) if start < 0 else start
            # Noise is reported in blocks counted from its first byte, whatever the reads.
            while end - i >= _NOISE_BLOCK or (start >= 0 and end > i):
                size = min(_NOISE_BLOCK, end - i)
                out.append(self._error("noise outside a frame", bytes(buf[i : i + size])))
                i += size
            if start < 0:
                break
            length, reason = self._frame_at(buf, i)
            if length == 0:
                break
            frame = bytes(buf[i : i + length])
            i += length
            out.append(self._error(reason, frame) if reason else self._frame_badge(frame))
        del buf[:i]
        return out

    def _frame_at(self, buf: bytearray, i: int) -> tuple[int, str]:
        """Length of the frame (or broken frame) starting at STX `i`, 0 if incomplete."""
        for j in range(i + 1, i + 1 + _FRAME_CHARS):
            if j >= len(buf):
                return 0, ""
            if buf[j] not in _HEX_BYTES:
                return j - i, "frame broken by a non-hex byte"
        rest = bytes(buf[i + 1 + _FRAME_CHARS : i + 4 + _FRAME_CHARS])
        for trailer in _TRAILERS[self.protocol]:
            if rest.startswith(trailer):
                return 1 + _FRAME_CHARS + len(trailer), ""
        if any(len(rest) < len(t) and t.startswith(rest) for t in _TRAILERS[self.protocol]):
            return 0, ""
        return 1 + _FRAME_CHARS, "frame without its end byte"

    def _frame_badge(self, frame: bytes) -> str | DecodeError:
        chars = frame[1 : 1 + _FRAME_CHARS].decode("ascii")
        data = bytes.fromhex(chars[:10])
        if reduce(lambda a, b: a ^ b, data, 0) != int(chars[10:], 16):
            return self._error("frame checksum mismatch", frame)
        return badge_from_em4100(data)

    def _feed_lines(self, data: bytes) -> list[str | DecodeError]:
        out: list[str | DecodeError] = []
        for line in self._lines.feed(data):
            if isinstance(line, OverlongLine):
                out.append(self._error("line too long", line.raw))
                continue
            try:
                text = line.decode("ascii").strip()
            except UnicodeDecodeError:
                out.append(self._error("line is not ASCII", line))
                continue
            if not text:
                continue
            if self.protocol == "wedge":
                badge = normalise_badge(text)
                reason = "not a badge id"
            else:
                badge = _wiegand26_badge(text) if _WIEGAND26.fullmatch(text) else None
                reason = "not a valid Wiegand 26 reading (26 bits, both parities)"
            out.append(badge if badge is not None else self._error(reason, line))
        return out
