"""Fake serial devices on real pty pairs: the service opens the slave end through pyserial."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import tty


class PtyDevice:
    """One end of a pty pair that a test writes device output to."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes, rng: random.Random | None = None) -> None:
        """Write bytes, split at random points when `rng` is given (reads split frames)."""
        if rng is None:
            os.write(self.master, data)
            return
        position = 0
        while position < len(data):
            step = rng.randint(1, 7)
            os.write(self.master, data[position : position + step])
            position += step

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def rdm6300_frame(data_hex: str) -> bytes:
    """An RDM6300 frame: STX, 10 hex data, 2 hex XOR checksum, ETX."""
    raw = bytes.fromhex(data_hex)
    checksum = 0
    for byte in raw:
        checksum ^= byte
    return b"\x02" + data_hex.upper().encode() + f"{checksum:02X}".encode() + b"\x03"


class FakeMarlin(PtyDevice):
    """A Marlin printer that answers M27/M105 polls and prints host actions when told."""

    def __init__(self) -> None:
        super().__init__()
        self.position: int | None = None
        self.size = 10_000
        self.polls: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = os.read(self.master, 256)
            except OSError:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self.polls.append(line)
                if b"M27" in line:
                    if self.position is None:
                        self.write(b"Not SD printing\nok\n")
                    else:
                        self.write(f"SD printing byte {self.position}/{self.size}\nok\n".encode())
                elif b"M105" in line:
                    self.write(b"ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0\n")
                else:
                    self.write(b"ok\n")

    def close(self) -> None:
        self._stop.set()
        super().close()
