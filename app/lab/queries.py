"""Read-side views of sessions, runs and machine state, shared by the API and the dashboard."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.lab.activity import LabSession, MachineRun, MachineStatus
from app.lab.models import Contributor, Machine


class MachineStateView(BaseModel):
    """What a machine is doing now, its current run and operator, and since when."""

    machine_id: int
    name: str
    state: str
    since: datetime | None
    last_event_at: datetime | None
    run_id: int | None
    run_started_at: datetime | None
    job: str | None
    progress: float | None
    power_w: float | None
    operator_id: int | None
    operator_name: str | None
    session_id: int | None


def machine_state(db: Session, machine: Machine) -> MachineStateView:
    """The current state of one machine."""
    assert machine.id is not None
    status = db.get(MachineStatus, machine.id) or MachineStatus(machine_id=machine.id)
    run = db.get(MachineRun, status.run_id) if status.run_id else None
    session = db.exec(
        select(LabSession).where(
            LabSession.machine_id == machine.id, col(LabSession.closed_at).is_(None)
        )
    ).first()
    operator_id = (
        run.operator_id
        if run and run.operator_id
        else (session.contributor_id if session else None)
    )
    operator = db.get(Contributor, operator_id) if operator_id else None
    return MachineStateView(
        machine_id=machine.id,
        name=machine.name,
        state=status.state,
        since=status.since,
        last_event_at=status.last_event_at,
        run_id=run.id if run else None,
        run_started_at=run.started_at if run else None,
        job=run.job if run else None,
        progress=run.progress if run else None,
        power_w=status.power_w,
        operator_id=operator_id,
        operator_name=operator.display_name if operator else None,
        session_id=session.id if session else None,
    )
