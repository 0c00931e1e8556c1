"""Contributions are derived in the transaction that closes a session or ends a run.

No read or sync happens in these tests between the closing and the check: the
rows must already be there, and the queue empty, when the closing commits.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.tables import Contribution, ContributionPending
from app.api.keys import Role
from app.ingest.routing import TopicRouter
from app.ingest.worker import IngestWorker, MqttInbound, WorkerConfig
from app.lab.activity import LabSession
from app.lab.recorder import prepare_batch
from app.lab.sessions import ScanRules, close_overlong_sessions
from devices.events import MachineState, RunState
from tests import factories
from tests.ingest.conftest import eventually
from tests.lab.conftest import T0, Lab

ADA = "0012771493"
BOB = "0000000042"
RECEIVED = T0 + timedelta(days=1)  # the device times below are in the past, not the future


@pytest.fixture
def lab(client, admin, key_for):
    return Lab(client, admin, key_for(Role.DEVICE))


def queued(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ContributionPending)).scalar_one()


def derived(session: Session, source: str) -> list[Contribution]:
    session.expire_all()
    rows = session.execute(
        select(Contribution).where(Contribution.source == source).order_by(Contribution.id)
    ).scalars()
    return list(rows)


def test_a_badge_out_commits_the_labour_with_the_closed_session(lab, session):
    lab.scan(ADA, 0)
    assert derived(session, "session") == [] and queued(session) == 0
    lab.scan(ADA, 900)
    (row,) = derived(session, "session")
    assert row.quantity == 900_000 and row.contributor_id == lab.ada["id"]
    assert row.status == "approved" and row.created_by == "auto"
    assert queued(session) == 0


def test_a_session_closed_at_its_limit_is_derived_pending_review(lab, session, engine):
    factories.reader(lab.client, lab.admin, name="door")
    lab.scan(ADA, 0, reader="door")
    with Session(engine) as db:  # the service's periodic sweep, in its own transaction
        close_overlong_sessions(db, T0 + timedelta(hours=72), ScanRules())
        db.commit()
    (row,) = derived(session, "session")
    assert row.status == "pending" and "12 h" in row.note
    assert row.decided_by is None and row.decided_at is None
    assert row.quantity == 12 * 3600 * 1000
    # A re-tag moves it and leaves it pending: only an operator decides.
    response = lab.client.patch(
        f"/api/v1/sessions/{row.source_id}",
        json={"product_id": lab.product["id"]},
        headers=lab.admin,
    )
    assert response.status_code == 200, response.text
    (moved,) = derived(session, "session")
    assert moved.product_id == lab.product["id"] and moved.status == "pending"
    assert queued(session) == 0


def test_a_session_re_timed_in_any_session_moves_its_labour_as_it_commits(lab, session):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    lab_session = session.execute(select(LabSession)).scalar_one()
    lab_session.closed_at = T0 + timedelta(seconds=1200)
    lab_session.role = "trainer"
    session.commit()
    (row,) = derived(session, "session")
    assert row.quantity == 1_200_000 and row.role == "trainer"
    assert row.occurred_at == T0 + timedelta(seconds=1200)
    assert queued(session) == 0


def test_a_rolled_back_close_derives_nothing_and_queues_nothing(lab, session, engine):
    lab.scan(ADA, 0)
    with Session(engine) as db:
        open_session = db.execute(select(LabSession)).scalar_one()
        open_session.closed_at = T0 + timedelta(seconds=60)
        db.flush()  # the trigger queues it inside this transaction
        assert queued(db) == 1
        db.rollback()
        db.commit()  # an empty commit after the rollback derives nothing either
    assert derived(session, "session") == [] and queued(session) == 0


def test_rows_queued_by_other_transactions_are_left_to_the_read(lab, session, engine):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    with engine.begin() as bare:  # a hand-written repair, outside any Session
        bare.execute(text("UPDATE lab_session SET role = 'mentor'"))
    assert queued(session) == 1
    lab.scan(BOB, 700)
    lab.scan(BOB, 1000)
    ada_row, bob_row = derived(session, "session")
    assert bob_row.quantity == 300_000  # Bob's closing derived its own row ...
    assert ada_row.role == "maker" and queued(session) == 1  # ... and only its own
    (listed,) = lab.get("contributions", contributor_id=lab.ada["id"])["items"]
    assert listed["role"] == "mentor" and queued(session) == 0  # the read's safety net


def test_runs_ended_by_the_set_based_batch_path_are_derived_at_commit(lab, session, engine):
    machine = str(lab.printer["id"])
    events = [
        MachineState(
            machine=machine, state=RunState(state), at=T0 + timedelta(seconds=at), event_id=f"b{at}"
        )
        for state, at in (("running", 10), ("finished", 70), ("running", 100))
    ]
    with Session(engine) as db:
        outcome = prepare_batch(db, [(event, "test") for event in events], ScanRules())
        assert outcome.handled == {id(event) for event in events}  # all taken by the Core path
        db.commit()
    (row,) = derived(session, "run")
    assert row.quantity == 60_000 and row.machine_id == lab.printer["id"]
    ending = MachineState(
        machine=machine, state=RunState.FINISHED, at=T0 + timedelta(seconds=400), event_id="b400"
    )
    with Session(engine) as db:  # the open run, ended by an UPDATE in a later batch
        assert prepare_batch(db, [(ending, "test")], ScanRules()).handled == {id(ending)}
        db.commit()
    assert [row.quantity for row in derived(session, "run")] == [60_000, 300_000]
    assert queued(session) == 0


def test_the_ingest_worker_commits_contributions_before_it_acknowledges(lab, session, engine):
    acked: list[int] = []
    lock = threading.Lock()

    def ack(message: MqttInbound) -> None:
        with lock:
            acked.append(message.mid)

    worker = IngestWorker(
        engine, TopicRouter(), WorkerConfig(), ack, lambda _ids: None, lambda: None
    )

    def send(mid: int, topic: str, body: dict) -> None:
        worker.queue.put(MqttInbound(topic, json.dumps(body).encode(), mid, 1, RECEIVED))

    def at(seconds: int) -> str:
        return (T0 + timedelta(seconds=seconds)).isoformat()

    worker.start()
    try:
        # A run in one batch (the set-based path), then a badge-in and -out (the ORM path).
        send(1, "lab/v1/machine/printer-a/state", {"state": "running", "id": "w1", "at": at(0)})
        send(2, "lab/v1/machine/printer-a/state", {"state": "finished", "id": "w2", "at": at(90)})
        eventually(lambda: len(acked) == 2)
        assert [row.quantity for row in derived(session, "run")] == [90_000]
        send(3, "lab/v1/badge/reader-a", {"badge": ADA, "id": "w3", "at": at(100)})
        eventually(lambda: len(acked) == 3)
        assert derived(session, "session") == []
        send(4, "lab/v1/badge/reader-a", {"badge": ADA, "id": "w4", "at": at(400)})
        eventually(lambda: len(acked) == 4)
        assert [row.quantity for row in derived(session, "session")] == [300_000]
    finally:
        worker.stop()
    assert queued(session) == 0
    assert sync_derived_contributions(session, full=True) == 0  # the same rows a repair makes
