"""One thread per serial port: read bytes, decode them, queue lab/v1 messages, poll if asked.

The port is any pyserial URL (a device path, ``socket://``, ``rfc2217://``,
``loop://``). A port that fails to open or disappears (a USB cable pulled) is
reopened with a growing delay, logged once per outage and once when it comes
back. Bytes a codec cannot read are decode errors (kept in the status table,
logged at DEBUG), never exceptions: a noisy device never stops the bridge.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import serial

from devices import registry
from devices.codec import StreamCodec
from devices.events import BadgeScan, DecodeError, Event, Ignored, Result
from devices.labv1 import encode_badge, encode_machine_state
from devices.marlin import MarlinCodec
from devices.scpi import ScpiCodec
from labbridge.config import SerialDeviceConfig
from labbridge.outbox import Outbox
from labbridge.polling import MarlinPoller, Poller, ScpiPoller, SilentPoller
from labbridge.status import StatusBoard, summarise

logger = logging.getLogger(__name__)

READ_TIMEOUT_S: Final = 0.05
WRITE_TIMEOUT_S: Final = 2.0
READ_MAX: Final = 4096
FIRST_RETRY_S: Final = 0.2
STABLE_S: Final = 10.0


def make_codec(device: SerialDeviceConfig) -> StreamCodec:
    """The stream codec for a configured serial device."""
    if device.kind == "reader":
        codec = registry.reader_codec(device.codec, device.name, device.port)
    elif device.codec == "scpi":
        # The registry builds SCPI codecs with the default query; ours may be configured.
        return ScpiCodec(device.name, device.scpi_query, device.scpi_busy_mask)
    else:
        codec = registry.machine_codec(device.codec, device.name, device.port)
    if not hasattr(codec, "feed"):
        raise ValueError(f"{device.label} is not a serial codec")
    return codec  # type: ignore[return-value]


def make_poller(codec: StreamCodec) -> Poller:
    """What to write to the device, if anything."""
    if isinstance(codec, MarlinCodec):
        return MarlinPoller(codec)
    if isinstance(codec, ScpiCodec):
        return ScpiPoller(codec)
    return SilentPoller()


def encode(event: Event) -> tuple[str, bytes]:
    """The lab/v1 message of an event."""
    if isinstance(event, BadgeScan):
        return encode_badge(event)
    return encode_machine_state(event)


class SerialWorker:
    """Keeps one serial device open and turns what it says into outbox messages."""

    def __init__(
        self,
        device: SerialDeviceConfig,
        outbox: Outbox,
        board: StatusBoard,
        reopen_max_s: float,
        on_scan: Callable[[BadgeScan], None] | None = None,
    ) -> None:
        self.device = device
        self._on_scan = on_scan
        self._outbox = outbox
        self._board = board
        self._reopen_max_s = reopen_max_s
        self._codec = make_codec(device)
        self._poller = make_poller(self._codec)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"labbridge-serial-{device.name}", daemon=True
        )

    def start(self) -> None:
        """Start the port's thread."""
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        """The port's thread: open, serve, and reopen with backoff until stopped."""
        delay = FIRST_RETRY_S
        outage_since: float | None = None
        while not self._stopping.is_set():
            try:
                port = serial.serial_for_url(
                    self.device.port,
                    baudrate=self.device.baudrate,
                    timeout=READ_TIMEOUT_S,
                    write_timeout=WRITE_TIMEOUT_S,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                outage_since = self._outage(outage_since, "cannot open", exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, self._reopen_max_s)
                continue
            if outage_since is not None:
                logger.info(
                    "serial %s: %s open again after %.1f s",
                    self.device.name,
                    self.device.port,
                    time.monotonic() - outage_since,
                )
            else:
                logger.info("serial %s: %s open", self.device.name, self.device.port)
            outage_since = None
            opened_at = time.monotonic()
            self._board.port(self.device.name, is_open=True)
            try:
                self._serve(port)
            except (serial.SerialException, OSError) as exc:
                outage_since = self._outage(outage_since, "port lost", exc)
            except Exception as exc:
                # A bug must not end the thread for good: log it, then reopen after a pause.
                logger.exception("serial %s: unexpected error", self.device.name)
                outage_since = self._outage(outage_since, "unexpected error", exc)
            finally:
                port.close()
            if self._stopping.is_set():
                self._board.port(self.device.name, is_open=False)
                break
            # A port that keeps failing right after opening backs off like one that will not open.
            stable = time.monotonic() - opened_at >= STABLE_S
            delay = FIRST_RETRY_S if stable else min(delay * 2, self._reopen_max_s)
            self._stopping.wait(delay)

    def _outage(self, since: float | None, what: str, exc: Exception) -> float:
        """Log an outage once (repeats at DEBUG) and mark the port closed; when it began."""
        error = f"{what}: {exc}"
        if since is None:
            logger.warning(
                "serial %s on %s: %s; retrying", self.device.name, self.device.port, error
            )
            self._board.port(self.device.name, is_open=False, error=error)
            return time.monotonic()
        logger.debug("serial %s: still %s", self.device.name, error)
        return since

    def _serve(self, port: serial.Serial) -> None:
        """Read, decode and poll until the port fails or the worker stops."""
        interval = self.device.poll_interval_s
        self._write(port, self._poller.on_open())
        next_poll = time.monotonic()
        while not self._stopping.is_set():
            if interval is not None and time.monotonic() >= next_poll:
                self._write(port, self._poller.poll())
                next_poll = time.monotonic() + interval
            data = port.read(min(max(port.in_waiting, 1), READ_MAX))
            if not data:
                continue
            results = self._codec.feed(data, datetime.now(UTC))
            self._handle(results)
            self._write(port, self._poller.after(results))

    def _write(self, port: serial.Serial, lines: list[bytes]) -> None:
        """Write lines to the device."""
        for line in lines:
            port.write(line)

    def _handle(self, results: list[Result]) -> None:
        """Queue the events, note the decode errors."""
        messages: list[tuple[str, bytes]] = []
        summary: str | None = None
        for result in results:
            if isinstance(result, DecodeError):
                logger.debug(
                    "serial %s: unreadable input (%s): %r",
                    self.device.name,
                    result.reason,
                    result.raw,
                )
                self._board.error(self.device.name, result.reason)
                continue
            if isinstance(result, Ignored):
                continue  # a documented ignore of the codec: nothing to send
            try:
                messages.append(encode(result))
            except ValueError as exc:
                logger.warning("serial %s: event not sendable as lab/v1: %s", self.device.name, exc)
                self._board.error(self.device.name, str(exc))
                continue
            summary = summarise(result)
        if messages:
            self._outbox.put_many(messages)
            assert summary is not None
            self._board.seen(self.device.name, summary, len(messages))
        if self._on_scan is not None:
            for result in results:
                if isinstance(result, BadgeScan):
                    self._on_scan(result)
