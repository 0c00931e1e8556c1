"""Serial ingest for labs without a bridge: the service reads the ports itself.

Machines with adapter `marlin` or `scpi`, and readers with a serial protocol,
name a port in their address: a device path or a pyserial URL (`socket://`,
`rfc2217://`, `loop://`), optionally followed by `@<baud>`. One thread per port
reads, polls where the device must be asked, and reopens a port that vanishes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import serial

from app.ingest import metrics
from app.ingest.worker import Decoded
from devices.codec import StreamCodec
from devices.marlin import POLL_SD_STATUS, POLL_TEMPERATURES
from devices.scpi import ScpiCodec

log = logging.getLogger(__name__)

DEFAULT_BAUD = {"marlin": 115200, "scpi": 9600}
FALLBACK_BAUD = 9600


@dataclass(frozen=True)
class PortSpec:
    """One serial port to read: where, how fast, how to decode, what to poll."""

    key: tuple[str, int]
    url: str
    baudrate: int
    kind: str
    poll_every_s: float | None


def parse_address(address: str, kind: str) -> tuple[str, int]:
    """Split `port@baud` into the port and its baud rate (a default per device kind)."""
    port, sep, baud = address.rpartition("@")
    if sep and baud.isdigit() and port:
        return port, int(baud)
    return address, DEFAULT_BAUD.get(kind, FALLBACK_BAUD)


def _poll_commands(kind: str, codec: StreamCodec) -> list[bytes]:
    if kind == "marlin":
        return [POLL_SD_STATUS, POLL_TEMPERATURES]
    if isinstance(codec, ScpiCodec):
        return [codec.poll()]
    return []


class SerialPortReader:
    """Reads one port in a thread, feeding its codec and handing results to the worker."""

    def __init__(
        self, spec: PortSpec, codec: StreamCodec, deliver: Callable[[Decoded], None]
    ) -> None:
        self.spec = spec
        self.codec = codec
        self._deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{spec.url}", daemon=True)
        self.connected = False
        self.last_error = ""

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(
                    self.spec.url, baudrate=self.spec.baudrate, timeout=0.2
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                self._note_error(str(exc))
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 0.5
            self.connected = True
            log.info("serial port %s open", self.spec.url)
            try:
                self._read(port)
            except (serial.SerialException, OSError) as exc:
                self._note_error(str(exc))
            finally:
                self.connected = False
                port.close()

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("serial port %s: %s", self.spec.url, message)
        self.last_error = message

    def _read(self, port: serial.Serial) -> None:
        next_poll = 0.0
        clock = threading.Event()
        while not self._stop.is_set():
            now = datetime.now(UTC).timestamp()
            if self.spec.poll_every_s and now >= next_poll:
                for command in _poll_commands(self.spec.kind, self.codec):
                    port.write(command)
                next_poll = now + self.spec.poll_every_s
            data = port.read(max(1, port.in_waiting or 1))
            if not data:
                clock.wait(0)
                continue
            metrics.MESSAGES.labels("serial").inc()
            received_at = datetime.now(UTC)
            results = self.codec.feed(data, received_at)
            if results:
                self._deliver(Decoded(self.spec.url, results, received_at))
