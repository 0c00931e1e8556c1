"""Incremental derivation: triggers queue changed sessions and runs; a sync reads only the queue."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update
from sqlmodel import Session

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.tables import Contribution, ContributionPending
from app.api.keys import Role
from app.lab.activity import LabSession
from tests.lab.conftest import Lab

ADA = "0012771493"


@pytest.fixture
def lab(client, admin, key_for):
    return Lab(client, admin, key_for(Role.DEVICE))


def queued(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ContributionPending)).scalar_one()


def test_closing_a_session_queues_it_and_a_sync_drains_the_queue(lab, session):
    lab.scan(ADA, 0)
    assert queued(session) == 0  # an open session is not queued
    lab.scan(ADA, 600)
    assert queued(session) >= 1
    assert sync_derived_contributions(session) == 1
    assert queued(session) == 0
    # Nothing queued: nothing read from history, nothing written.
    assert sync_derived_contributions(session) == 0


def test_a_change_made_by_any_code_is_queued_by_the_database(lab, session):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    sync_derived_contributions(session)
    # Re-time the session behind the service's back, in plain SQL.
    session.execute(
        update(LabSession).values(
            closed_at=text("opened_at")  # 0 s long now
        )
    )
    session.commit()
    assert queued(session) == 1
    assert sync_derived_contributions(session) == 1
    session.expire_all()
    (row,) = session.execute(select(Contribution.quantity)).all()
    assert row.quantity == 0


def test_a_full_sync_repairs_what_the_queue_lost(lab, session):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    session.execute(ContributionPending.__table__.delete())  # type: ignore[attr-defined]
    session.commit()
    assert sync_derived_contributions(session) == 0
    assert sync_derived_contributions(session, full=True) == 1
    assert session.execute(select(func.count()).select_from(Contribution)).scalar_one() == 1


def test_sync_endpoint_takes_full(lab):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    response = lab.client.post("/api/v1/contributions/sync?full=true", headers=lab.admin)
    assert response.status_code == 200 and response.json()["changed"] == 1
