"""What the interlock asks for, decided from sessions and runs (no broker: commands stay rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.lab.access.interlock import reconcile
from app.lab.access.models import PowerCommand
from app.lab.models import Machine
from app.lab.runs import lock_status
from tests.lab.conftest import T0


def commands(session):
    session.expire_all()
    rows = session.exec(select(PowerCommand).order_by(PowerCommand.id)).all()
    return [(c.want_on, c.reason, c.status) for c in rows]


def test_badge_in_asks_on_badge_out_asks_off_and_the_older_command_is_superseded(
    access_lab, session
):
    lab = access_lab
    lab.patch(f"machines/{lab.printer['id']}", interlock="lab", interlock_address="printer-a")
    lab.induct(lab.ada, granted_at="2026-01-01T00:00:00Z")
    lab.scan("0012771493", 0)
    assert commands(session) == [(True, "badge_in", "pending")]
    lab.scan("0012771493", 60)
    assert commands(session) == [(True, "badge_in", "superseded"), (False, "badge_out", "pending")]


def test_a_run_holds_the_power_and_its_end_switches_off(access_lab, session):
    lab = access_lab
    lab.patch(f"machines/{lab.printer['id']}", interlock="lab", interlock_address="printer-a")
    lab.induct(lab.ada, granted_at="2026-01-01T00:00:00Z")
    lab.scan("0012771493", 0)
    lab.state("running", 30)
    lab.scan("0012771493", 60)
    assert [c[0] for c in commands(session)] == [True]
    power = lab.get(f"machines/{lab.printer['id']}/power")
    assert power["holding"] == "run in progress"
    lab.state("finished", 600)
    assert commands(session)[-1] == (False, "run_ended", "pending")


def test_a_session_lived_while_labledger_was_away_is_switched_off_when_it_is_replayed(
    access_lab, session
):
    lab = access_lab
    lab.induct(lab.ada, granted_at="2026-01-01T00:00:00Z")
    lab.scan("0012771493", 0)  # admitted and switched on by a bridge from its cache
    lab.scan("0012771493", 60)
    lab.patch(f"machines/{lab.printer['id']}", interlock="lab", interlock_address="printer-a")
    machine = session.get(Machine, lab.printer["id"])
    session.refresh(machine)
    # Sessions from before the interlock was configured are left alone...
    lock_status(session, machine.id)
    reconcile(session, machine, datetime.now(UTC))
    session.commit()
    assert commands(session) == []
    # ...but not one lived after it, while LabLedger was away.
    machine.updated_at = T0 - timedelta(days=1)
    session.add(machine)
    session.commit()
    lock_status(session, machine.id)
    reconcile(session, machine, datetime.now(UTC))
    session.commit()
    assert commands(session) == [(False, "badge_out", "pending")]
    reconcile(session, machine, datetime.now(UTC))  # once is enough
    session.commit()
    assert len(commands(session)) == 1


def test_an_interlock_needs_an_address_that_fits_it(access_lab):
    lab = access_lab
    response = lab.client.patch(
        f"/api/v1/machines/{lab.printer['id']}",
        json={"interlock": "lab", "interlock_address": "a/b"},
        headers=lab.admin,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == {"field": "interlock_address"}
