"""Device messages in their real wire formats, and what each must become in the books.

What a message must become is read from the device layer's own codec run on
the side (a fresh one per message: the simulation sends only messages that do
not depend on what came before, because two replicas split the stream): an
event with its id, a reject, or nothing.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devices.events import BadgeScan, DecodeError, MachineState
from devices.registry import machine_codec, reader_codec

LAB_MACHINE = "sim-m1"
OCTO_BASE = "sim/octo"
READER = "sim-reader"
LAB_STATES = ("running", "paused", "running", "finished", "idle", "running", "failed", "idle")
OCTO_EVENTS = ("PrintStarted", "PrintPaused", "PrintResumed", "PrintDone", "PrintFailed")


@dataclass(frozen=True)
class Message:
    """One MQTT message and what the service must make of it."""

    topic: str
    payload: bytes
    event_id: str | None  # the device event it must be recorded as
    reject: bool  # or a kept reject


def expect(topic: str, payload: bytes, *, reader: bool = False) -> Message:
    """Decode on the side with the device layer's codec to learn the expected outcome."""
    codec = (
        reader_codec("mqtt", "1", READER)
        if reader
        else machine_codec("octoprint", "1", OCTO_BASE)
        if topic.startswith(OCTO_BASE)
        else machine_codec("lab", "1", LAB_MACHINE)
    )
    results = codec.decode(topic, payload, datetime.now(UTC))
    events = [r for r in results if isinstance(r, MachineState | BadgeScan)]
    assert all(e.fingerprint is None for e in events), "the simulation sends timed messages only"
    assert len(results) == 1, results
    return Message(
        topic,
        payload,
        events[0].event_id if events else None,
        reject=isinstance(results[0], DecodeError),
    )


class DeviceClock:
    """Device time: starts hours back and moves forward by a random step per message."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)

    def tick(self) -> datetime:
        self.now += timedelta(seconds=self.rng.randint(20, 240))
        return self.now


class Devices:
    """Makes the next message of each device in the lab."""

    def __init__(self, rng: random.Random, run: str) -> None:
        self.rng = rng
        self.run = run
        self.clock = DeviceClock(rng)
        self.lab_step = 0
        self.counter = 0

    def _id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.run}-{self.counter}"

    def lab_state(self) -> Message:
        """A lab/v1 machine state with its own id and device time."""
        state = LAB_STATES[self.lab_step % len(LAB_STATES)]
        self.lab_step += 1
        body = {"state": state, "id": self._id("st"), "at": self.clock.tick().isoformat()}
        if state == "running":
            body["progress"] = self.rng.randint(0, 100)
        topic = f"lab/v1/machine/{LAB_MACHINE}/state"
        return expect(topic, json.dumps(body).encode())

    def octoprint(self) -> Message:
        """An OctoPrint-MQTT plugin lifecycle event, timed by `_timestamp`."""
        kind = self.rng.choice(OCTO_EVENTS)
        body: dict[str, object] = {"_timestamp": int(self.clock.tick().timestamp()), "_event": kind}
        if kind == "PrintStarted":
            body |= {"name": f"part-{self.counter}.gcode", "path": f"sim/part-{self.counter}.gcode"}
        if kind in ("PrintDone", "PrintFailed"):
            body["time"] = self.rng.randint(60, 7200)
        self.counter += 1
        return expect(f"{OCTO_BASE}/event/{kind}", json.dumps(body).encode())

    def scan(self, card: str) -> Message:
        """A lab/v1 badge scan with its own id and device time."""
        body = {"badge": card, "id": self._id("scan"), "at": self.clock.tick().isoformat()}
        return expect(f"lab/v1/badge/{READER}", json.dumps(body).encode(), reader=True)

    def garbage(self) -> Message:
        """A frame a device might send when broken: not JSON, wrong state, or no badge."""
        topic, payload = self.rng.choice(
            [
                (f"lab/v1/machine/{LAB_MACHINE}/state", b"\xff\x00 not json"),
                (f"lab/v1/machine/{LAB_MACHINE}/state", b'{"state": "exploded"}'),
                (f"lab/v1/badge/{READER}", b'{"at": "2026-01-01T00:00:00Z"}'),
                (f"{OCTO_BASE}/event/PrintDone", b"[1, 2"),
            ]
        )
        message = expect(topic, payload, reader=topic.startswith("lab/v1/badge"))
        assert message.reject, message
        return message
