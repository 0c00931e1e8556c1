"""Incremental derivation: triggers queue changed sessions and runs; a sync reads only the queue.

The app's own transactions derive what they queued before they commit
(`test_at_commit.py`); these tests queue behind the service's back, on a bare
connection, as a repair or a hand-written UPDATE would, and check that the
read-side sync still derives it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.tables import Contribution, ContributionPending
from app.api.keys import Role
from tests.lab.conftest import Lab

ADA = "0012771493"


@pytest.fixture
def lab(client, admin, key_for):
    return Lab(client, admin, key_for(Role.DEVICE))


def queued(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ContributionPending)).scalar_one()


def behind_the_service(engine, *statements: str) -> None:
    """Plain SQL on a bare connection (no Session): the triggers queue, nothing derives."""
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_a_change_made_outside_the_service_is_queued_and_a_sync_derives_it(lab, session, engine):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    assert queued(session) == 0  # the badge-out derived its own closing
    behind_the_service(engine, "UPDATE lab_session SET closed_at = opened_at")  # 0 s long now
    assert queued(session) == 1
    assert sync_derived_contributions(session) == 1
    assert queued(session) == 0
    session.expire_all()
    (row,) = session.execute(select(Contribution.quantity)).all()
    assert row.quantity == 0
    # Nothing queued: nothing read from history, nothing written.
    assert sync_derived_contributions(session) == 0


def test_listing_derives_what_was_queued_outside_the_service(lab, session, engine):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    behind_the_service(engine, "DELETE FROM contribution", "UPDATE lab_session SET role = 'mentor'")
    (row,) = lab.get("contributions")["items"]
    assert row["source"] == "session" and row["role"] == "mentor"
    assert row["quantity"] == 600_000
    assert queued(session) == 0


def test_a_full_sync_repairs_what_the_queue_lost(lab, session, engine):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    behind_the_service(engine, "DELETE FROM contribution")
    assert sync_derived_contributions(session) == 0
    assert sync_derived_contributions(session, full=True) == 1
    assert session.execute(select(func.count()).select_from(Contribution)).scalar_one() == 1


def test_sync_endpoint_takes_full(lab, engine):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    behind_the_service(engine, "DELETE FROM contribution")
    response = lab.client.post("/api/v1/contributions/sync?full=true", headers=lab.admin)
    assert response.status_code == 200 and response.json()["changed"] == 1
