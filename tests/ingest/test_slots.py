"""Ingest slots: replicas lease the MQTT sessions, and a survivor drains a dead replica's share.

Two real service processes share four slots through the database. One is
SIGKILLed mid-stream; its slots' leases lapse, the survivor takes them over,
connects with their client ids and applies what the broker kept for them.
Every message is applied exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
