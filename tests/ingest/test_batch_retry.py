"""A batch that fails is written again and acknowledged, never dropped unacknowledged.

Faults are injected at the database driver boundary of a real engine: the first
attempt at the batch fails with an unexpected error, and the message-by-message
attempt that follows finds the database gone for a moment.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from app.ingest.routing import TopicRouter
from app.ingest.worker import IngestWorker, MqttInbound, WorkerConfig
from app.lab.activity import DeviceEvent
from app.lab.models import MachineCreate
from app.lab.service import create_machine
from tests.ingest.conftest import eventually

MESSAGES = 20


def test_a_failed_batch_is_retried_applied_once_and_acknowledged(engine):
    with Session(engine) as db:
        create_machine(db, MachineCreate(name="P", kind="printer", adapter="lab", address="p9"))
    faults: list[Exception] = [
        RuntimeError("injected: unexpected failure of the whole batch"),
        OperationalError("INSERT", {}, Exception("injected: database went away")),
    ]

    def inject(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO device_event") and faults:
            raise faults.pop(0)

    event.listen(engine, "before_cursor_execute", inject)
    acked: list[int] = []
    lock = threading.Lock()

    def ack(message: MqttInbound) -> None:
        with lock:
            acked.append(message.mid)

    worker = IngestWorker(
        engine, TopicRouter(), WorkerConfig(), ack, lambda _ids: None, lambda: None
    )
    start = datetime(2026, 6, 1, 8, tzinfo=UTC)
    for mid in range(1, MESSAGES + 1):
        body = {
            "state": "running",
            "id": f"r{mid}",
            "at": (start + timedelta(seconds=mid)).isoformat(),
        }
        worker.queue.put(
            MqttInbound("lab/v1/machine/p9/state", json.dumps(body).encode(), mid, 1, start)
        )
    worker.start()
    try:
        eventually(lambda: len(acked) == MESSAGES, timeout=30)
    finally:
        worker.stop()
        event.remove(engine, "before_cursor_execute", inject)
    assert faults == []  # both faults were hit
    assert sorted(acked) == list(range(1, MESSAGES + 1))
    with Session(engine) as db:
        ids = db.exec(select(DeviceEvent.event_id)).all()
        assert db.exec(select(func.count()).select_from(DeviceEvent)).one() == MESSAGES
    assert sorted(ids) == sorted(f"r{mid}" for mid in range(1, MESSAGES + 1))
