"""Read views of access for the API, CLI and dashboard: who may use what, and review lists."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from app.lab.access.inductions import groups_of, status_of
from app.lab.access.interlock import last_command
from app.lab.access.models import (
    Induction,
    InductionPublic,
    MachineGroup,
    PowerCommandPublic,
    PowerState,
    PowerStatePublic,
)
from app.lab.models import Contributor, Machine


class InductionRow(BaseModel):
    """One induction with the names a person reads: who, on what, by whom, and its status now."""

    id: int
    contributor_id: int
    contributor: str
    scope: str
    machine_id: int | None
    group_id: int | None
    trainer: str
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoke_reason: str | None
    note: str
    status: str


def induction_public(row: Induction, now: datetime) -> InductionPublic:
    """An induction with its status at `now`."""
    return InductionPublic(**row.model_dump(), status=status_of(row, now))


def induction_filters(
    db: Session,
    contributor_id: int | None = None,
    machine_id: int | None = None,
    group_id: int | None = None,
) -> list[object]:
    """Where-clauses for a list of inductions; a machine filter includes its groups' inductions."""
    clauses: list[object] = []
    if contributor_id is not None:
        clauses.append(Induction.contributor_id == contributor_id)
    if machine_id is not None:
        groups = groups_of(db, machine_id)
        scope: list[ColumnElement[bool]] = [col(Induction.machine_id) == machine_id]
        if groups:
            scope.append(col(Induction.group_id).in_(groups))
        clauses.append(or_(*scope))
    if group_id is not None:
        clauses.append(Induction.group_id == group_id)
    return clauses


def induction_rows(
    db: Session,
    now: datetime,
    *,
    contributor_id: int | None = None,
    machine_id: int | None = None,
    status: str | None = None,
    limit: int = 500,
) -> list[InductionRow]:
    """Inductions, newest first, with names and status (the dashboard's Inductions page)."""
    query = select(Induction).order_by(col(Induction.granted_at).desc(), col(Induction.id).desc())
    for clause in induction_filters(db, contributor_id, machine_id):
        query = query.where(clause)  # type: ignore[arg-type]
    names = {c.id: c.display_name for c in db.exec(select(Contributor)).all()}
    machines = {m.id: m.name for m in db.exec(select(Machine)).all()}
    groups = {g.id: g.name for g in db.exec(select(MachineGroup)).all()}
    rows: list[InductionRow] = []
    for row in db.exec(query).all():
        assert row.id is not None
        current = status_of(row, now)
        if status is not None and current != status:
            continue
        scope = (
            f"machine {machines.get(row.machine_id, row.machine_id)}"
            if row.machine_id is not None
            else f"group {groups.get(row.group_id, row.group_id)}"
        )
        rows.append(
            InductionRow(
                id=row.id,
                contributor_id=row.contributor_id,
                contributor=names.get(row.contributor_id, str(row.contributor_id)),
                scope=scope,
                machine_id=row.machine_id,
                group_id=row.group_id,
                trainer=names.get(row.trainer_id, str(row.trainer_id)),
                granted_at=row.granted_at,
                expires_at=row.expires_at,
                revoked_at=row.revoked_at,
                revoke_reason=row.revoke_reason,
                note=row.note,
                status=current,
            )
        )
        if len(rows) >= limit:
            break
    return rows


def machine_power(db: Session, machine: Machine) -> PowerStatePublic:
    """A machine's relay: what it reported, what LabLedger waits for, its newest command."""
    assert machine.id is not None
    state = db.get(PowerState, machine.id) or PowerState(machine_id=machine.id)
    command = last_command(db, machine.id)
    return PowerStatePublic(
        machine_id=machine.id,
        interlock=machine.interlock,
        interlock_address=machine.interlock_address,
        reported_on=state.reported_on,
        reported_at=state.reported_at,
        holding=state.holding,
        last_command=PowerCommandPublic(**command.model_dump()) if command else None,
    )
