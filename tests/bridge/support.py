"""Real parts for the bridge tests: config files, a lab-broker subscriber, ptys, fake devices."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.labv1 import LabV1Codec
from labbridge.agent import Agent
from labbridge.config import load_config
from labbridge.status import read_report

DEADLINE_S = 10.0


def wait_until(
    condition: Callable[[], object], timeout: float = DEADLINE_S, what: str = ""
) -> None:
    """Poll `condition` until it is true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


def toml_value(value: object) -> str:
    """A Python value as TOML (strings, numbers, booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def write_config(
    path: Path,
    broker_port: int,
    serial: list[dict[str, object]] | None = None,
    bambu: list[dict[str, object]] | None = None,
    bridge_id: str = "test-pi",
) -> Path:
    """A bridge config with fast reconnects, for a broker on 127.0.0.1."""
    lines = [
        "[bridge]",
        f"id = {toml_value(bridge_id)}",
        'outbox = "bridge.sqlite3"',
        "serial_reopen_max_s = 0.5",
        "[broker]",
        'host = "127.0.0.1"',
        f"port = {broker_port}",
        "reconnect_max_s = 1",
        "keepalive_s = 5",
    ]
    for section, tables in (("serial", serial or []), ("bambu", bambu or [])):
        for table in tables:
            lines.append(f"[[{section}]]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def running_agent(config_path: Path) -> Iterator[Agent]:
    """The bridge running in this process."""
    agent = Agent(load_config(config_path))
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def wait_port_open(agent: Agent, device: str) -> None:
    """Wait until the bridge opened a device's port (opening flushes what was written before)."""

    def is_open() -> bool:
        return any(
            d.device == device and d.port_open
            for d in read_report(agent.config.outbox_path).devices
        )

    wait_until(is_open, what=f"{device} open")


def bridge_process(config_path: Path) -> subprocess.Popen[bytes]:
    """The bridge as its own process (`python -m labbridge`), logging to a file beside it."""
    log = (config_path.parent / "bridge.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "labbridge", "--config", str(config_path), "--log-level", "DEBUG"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`labbridge ...` as a separate process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "labbridge", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@dataclass
class Received:
    """One message the subscriber got."""

    topic: str
    payload: bytes
    retain: bool


@dataclass
class Subscriber:
    """A paho client on a broker, with a persistent session, collecting what it receives."""

    port: int
    topics: tuple[str, ...] = ("lab/v1/#", "device/+/report")
    client_id: str = field(default_factory=lambda: f"test-sub-{random.getrandbits(32):08x}")
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_connect = self._on_connect
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 600
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=properties)
        self.client.loop_start()
        wait_until(self._subscribed.is_set, what="subscription")

    def _on_connect(self, client, _userdata, _flags, _reason, _properties) -> None:
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), message.retain))

    def on(self, prefix: str) -> list[Received]:
        """Messages so far whose topic starts with `prefix`."""
        with self._lock:
            return [m for m in self.messages if m.topic.startswith(prefix)]

    def events(self, prefix: str = "lab/v1/") -> list:
        """The lab/v1 events received so far (bridge status excluded), decoded."""
        codec = LabV1Codec()
        out = []
        for message in self.on(prefix):
            if "/bridge/" in message.topic:
                continue
            (event,) = codec.decode(message.topic, message.payload, datetime.now(UTC))
            out.append(event)
        return out

    def wait_events(self, count: int, prefix: str = "lab/v1/", timeout: float = DEADLINE_S) -> list:
        """Wait until at least `count` events arrived; all of them."""
        wait_until(lambda: len(self.events(prefix)) >= count, timeout, f"{count} events")
        return self.events(prefix)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class Pty:
    """A pseudo-terminal pair: the bridge opens `path`, the test plays the device on `master`."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        # Raw at once, so bytes written before the bridge opens the port are not cooked or echoed.
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        """Bytes from the device to the bridge."""
        os.write(self.master, data)

    def write_split(self, data: bytes, rng: random.Random) -> None:
        """The bytes in reads cut at random points, with small pauses between them."""
        i = 0
        while i < len(data):
            size = rng.randint(1, 7)
            self.write(data[i : i + size])
            i += size
            if rng.random() < 0.2:
                time.sleep(0.002)

    def read_available(self, timeout: float = 0.05) -> bytes:
        """What the bridge wrote to the device, if anything within `timeout`."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 4096)
        except OSError:
            return b""

    def close(self) -> None:
        """Unplug: close both ends."""
        for fd in (self.master, self._slave):
            with suppress(OSError):
                os.close(fd)


def rdm6300_frame(card: int) -> bytes:
    """An RDM6300 frame for the EM4100 card whose low 32 bits are `card` (version byte 0x0F)."""
    data = bytes([0x0F]) + card.to_bytes(4, "big")
    checksum = reduce(lambda a, b: a ^ b, data, 0)
    return b"\x02" + data.hex().upper().encode() + f"{checksum:02X}".encode() + b"\x03"


def marlin_checksum_ok(line: bytes) -> bool:
    """Whether a numbered Marlin line's checksum is the XOR of everything before `*`."""
    body, _, checksum = line.partition(b"*")
    return checksum.isdigit() and reduce(lambda a, b: a ^ b, body, 0) == int(checksum)


class FakeMarlin:
    """A Marlin printer on a pty: answers M110, M27, M105 and M31 as the firmware does."""

    def __init__(self, pty: Pty) -> None:
        self.pty = pty
        self.lines: list[bytes] = []
        self.bad_lines: list[bytes] = []
        self.sd: tuple[int, int] | None = None
        self.print_time = "1h 2m 3s"
        self.garble_next: bytes | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def commands(self) -> list[str]:
        """The commands received so far, without line numbers and checksums."""
        with self._lock:
            return [line.split(b"*")[0].split(b" ", 1)[1].decode() for line in self.lines]

    def say(self, text: str) -> None:
        """An unprompted line from the printer (a host action, Done printing file)."""
        self.pty.write(text.encode() + b"\n")

    def _run(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            buffer += self.pty.read_available()
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self._answer(line.strip())

    def _answer(self, line: bytes) -> None:
        with self._lock:
            if not marlin_checksum_ok(line):
                self.bad_lines.append(line)
                self.pty.write(b"Error:checksum mismatch\nResend: 0\nok\n")
                return
            self.lines.append(line)
        number, command = line.split(b"*")[0].split(b" ", 1)
        if command == self.garble_next:
            # As if the line arrived corrupted: Marlin asks for it again.
            self.garble_next = None
            self.pty.write(f"Error:checksum mismatch, Last Line: {int(number[1:]) - 1}\n".encode())
            self.pty.write(f"Resend: {int(number[1:])}\nok\n".encode())
            return
        if command == b"M27":
            sd = self.sd
            answer = f"SD printing byte {sd[0]}/{sd[1]}" if sd else "Not SD printing"
            self.pty.write(answer.encode() + b"\nok\n")
        elif command == b"M105":
            self.pty.write(b"ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0\n")
        elif command == b"M31":
            self.pty.write(f"echo:Print time: {self.print_time}\nok\n".encode())
        else:
            self.pty.write(b"ok\n")

    def stop(self) -> None:
        """Stop answering."""
        self._stop.set()
        self._thread.join(2)
