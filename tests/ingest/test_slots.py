"""Ingest slots: replicas lease the MQTT sessions, and a survivor drains a dead replica's share.

Two real service processes share four slots through the database. One is
SIGKILLed mid-stream; its slots' leases lapse, the survivor takes them over,
connects with their client ids and applies what the broker kept for them.
Every message is applied exactly once. Each slot subscribes plainly to its own
devices' topics, so the broker keeps those subscriptions across its restart
(a shared group it would forget), and one device's stream reaches one process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx2
from sqlmodel import Session, col, func, select

from app.ingest.lease_table import IngestLease
from app.lab.activity import DeviceEvent
from app.lab.models import MachineCreate
from app.lab.service import create_machine
from tests.broker import free_port
from tests.ingest.conftest import Publisher, eventually

SLOTS = 4
MESSAGES = 240


def _start(database_url: str, broker_port: int, http_port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "LABLEDGER_DATABASE_URL": database_url,
        "LABLEDGER_MQTT_HOST": "127.0.0.1",
        "LABLEDGER_MQTT_PORT": str(broker_port),
        "LABLEDGER_MQTT_CLIENT_ID": "svc-slots",
        # Set, as a deployment moved from groups to slots would have it: slots do not use it.
        "LABLEDGER_MQTT_SHARED_GROUP": "lab",
        "LABLEDGER_INGEST_SLOTS": str(SLOTS),
        "LABLEDGER_INGEST_LEASE_TTL_S": "3",
        "LABLEDGER_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(http_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _ready(http_port: int) -> bool:
    try:
        return httpx2.get(f"http://127.0.0.1:{http_port}/readyz", timeout=1).status_code == 200
    except httpx2.HTTPError:
        return False


def _holders(engine) -> dict[str, int]:
    """How many slots each live holder has leased."""
    with Session(engine) as db:
        rows = db.exec(
            select(IngestLease.holder, func.count())
            .where(
                col(IngestLease.name).startswith("slot:"),
                col(IngestLease.holder).is_not(None),
                col(IngestLease.expires_at) > datetime.now(UTC),
            )
            .group_by(IngestLease.holder)
        ).all()
    return {str(holder): int(n) for holder, n in rows}


def _recorded(engine) -> list[str]:
    with Session(engine) as db:
        return list(db.exec(select(DeviceEvent.event_id)).all())


def test_a_killed_replicas_share_is_applied_by_the_survivor_exactly_once(
    database_url, engine, broker
):
    with Session(engine) as db:
        for n in range(4):
            create_machine(
                db, MachineCreate(name=f"P{n}", kind="printer", adapter="lab", address=f"s{n}")
            )
    ports = [free_port(), free_port()]
    replicas = [_start(database_url, broker.port, port) for port in ports]
    try:
        for port in ports:
            eventually(lambda port=port: _ready(port), timeout=120)
        # Both replicas hold two slots each once they have balanced.
        eventually(lambda: sorted(_holders(engine).values()) == [2, 2], timeout=90)
        eventually(lambda: all(_subscribed(port) == 2 for port in ports), timeout=90)
        start = datetime(2026, 7, 1, 8, tzinfo=UTC)
        sent = [f"slot-{i}" for i in range(MESSAGES)]
        publisher = Publisher(broker.port)
        for i, event_id in enumerate(sent):
            at = (start + timedelta(seconds=i)).isoformat()
            body = {"state": "running", "id": event_id, "at": at}
            publisher.send(f"lab/v1/machine/s{i % 4}/state", body)
            if i == MESSAGES // 3:
                eventually(lambda: len(_recorded(engine)) > 20, timeout=90)
                replicas[0].send_signal(signal.SIGKILL)
                replicas[0].wait(10)
        publisher.close()
        # The survivor takes over the dead replica's slots and drains their sessions.
        eventually(lambda: list(_holders(engine).values()) == [SLOTS], timeout=120)
        eventually(lambda: len(_recorded(engine)) == MESSAGES, timeout=120)
    finally:
        for process in replicas:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(15)
    recorded = _recorded(engine)
    assert sorted(recorded) == sorted(sent)  # every message applied, none twice


def _subscribed(port: int) -> int:
    """How many slots a replica reads, from its /readyz."""
    try:
        body = httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=1).json()
    except httpx2.HTTPError:
        return -1
    return len(body["mqtt"]["slots"] or [])


def _machines(engine) -> None:
    with Session(engine) as db:
        for n in range(4):
            create_machine(
                db, MachineCreate(name=f"P{n}", kind="printer", adapter="lab", address=f"s{n}")
            )


@contextmanager
def _two_replicas(database_url: str, broker_port: int) -> Iterator[list[int]]:
    """Two service processes, balanced (two slots each) and reading; their HTTP ports."""
    ports = [free_port(), free_port()]
    replicas = [_start(database_url, broker_port, port) for port in ports]
    try:
        for port in ports:
            eventually(lambda port=port: _ready(port), timeout=120)
        yield ports
    finally:
        for process in replicas:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(15)


def _balanced(engine, ports: list[int]) -> None:
    eventually(lambda: sorted(_holders(engine).values()) == [2, 2], timeout=90)
    eventually(lambda: all(_subscribed(port) == 2 for port in ports), timeout=90)


def _send(publisher: Publisher, ids: list[str], first: int) -> None:
    start = datetime(2026, 7, 1, 8, tzinfo=UTC)
    for i, event_id in enumerate(ids, start=first):
        at = (start + timedelta(seconds=i)).isoformat()
        publisher.send(
            f"lab/v1/machine/s{i % 4}/state", {"state": "running", "id": event_id, "at": at}
        )


def test_a_stream_sent_as_the_broker_comes_back_is_applied_exactly_once(
    database_url, engine, broker
):
    _machines(engine)
    with _two_replicas(database_url, broker.port) as ports:
        _balanced(engine, ports)
        before = [f"before-{i}" for i in range(40)]
        publisher = Publisher(broker.port)
        _send(publisher, before, 0)
        publisher.close()
        eventually(lambda: len(_recorded(engine)) == len(before), timeout=90)
        broker.stop()
        eventually(lambda: all(_subscribed(port) == 0 for port in ports), timeout=60)
        # The replicas retry with backoff; a few seconds down puts their next try seconds away.
        # This is the outage's length, not a wait for anything.
        time.sleep(8)
        broker.start()
        after = [f"after-{i}" for i in range(120)]
        publisher = Publisher(broker.port)
        _send(publisher, after, len(before))
        publisher.close()
        reading = sum(max(0, _subscribed(port)) for port in ports)
        assert reading < SLOTS, "the replicas reconnected before the stream was sent"
        eventually(lambda: len(_recorded(engine)) >= len(before) + len(after), timeout=120)
        # Both replicas read again before the count is checked, so a late redelivery would show.
        _balanced(engine, ports)
    recorded = _recorded(engine)
    assert sorted(recorded) == sorted(before + after)


_MQTT_MESSAGES = re.compile(r'^labledger_ingest_messages_total\{transport="mqtt"\} (\S+)$', re.M)


def _mqtt_messages(port: int) -> int:
    """How many MQTT messages one replica process has received, from its /metrics."""
    text = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = _MQTT_MESSAGES.search(text)
    return int(float(found.group(1))) if found else 0


def test_every_message_of_one_device_reaches_one_process(database_url, engine, broker):
    _machines(engine)
    per_device = 15
    with _two_replicas(database_url, broker.port) as ports:
        _balanced(engine, ports)
        publisher = Publisher(broker.port)
        start = datetime(2026, 7, 1, 8, tzinfo=UTC)
        shares: list[list[int]] = []
        for device in range(4):
            counts = [_mqtt_messages(port) for port in ports]
            expected = len(_recorded(engine)) + per_device
            for i in range(per_device):
                at = (start + timedelta(minutes=device, seconds=i)).isoformat()
                body = {"state": "running", "id": f"d{device}-{i}", "at": at}
                publisher.send(f"lab/v1/machine/s{device}/state", body)
            eventually(lambda expected=expected: len(_recorded(engine)) == expected, timeout=90)
            shares.append([_mqtt_messages(port) - n for port, n in zip(ports, counts, strict=True)])
        publisher.close()
    # Each device's stream went whole to one replica (a shared group splits it between both).
    assert all(sorted(share) == [0, per_device] for share in shares), shares
