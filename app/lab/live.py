"""The lab right now, in three queries: every machine's state, who is in, recent unknown scans."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.db import utcnow
from app.lab.activity import LabSession, MachineRun, MachineStatus, UnknownScan
from app.lab.downtime import MachineDowntime
from app.lab.models import Contributor, Machine, Reader


class MachineNow(BaseModel):
    """One machine's card: state, job and progress, who is on it and since when."""

    machine_id: int
    name: str
    kind: str
    state: str
    since: datetime | None
    last_event_at: datetime | None
    job: str | None
    progress: float | None
    power_w: float | None
    run_id: int | None
    run_started_at: datetime | None
    operator_id: int | None
    operator: str | None
    session_since: datetime | None
    out_of_service: str | None


class PresentNow(BaseModel):
    """Someone in the lab: at a machine or through the door."""

    session_id: int
    contributor_id: int
    contributor: str
    machine_id: int | None
    machine: str | None
    since: datetime


class UnknownScanNow(BaseModel):
    """A recent scan of a card nobody holds."""

    id: int
    card_id: str
    reason: str
    reader: str
    at: datetime


class LabNow(BaseModel):
    """Everything the Now page shows."""

    at: datetime
    machines: list[MachineNow]
    present: list[PresentNow]
    unknown_scans: list[UnknownScanNow]


def machines_now(db: Session) -> list[MachineNow]:
    """Every active machine's live state, in one query."""
    now = utcnow()
    operator = aliased(Contributor)
    holder = aliased(Contributor)
    down = select(col(MachineDowntime.reason)).where(
        col(MachineDowntime.machine_id) == Machine.id,
        col(MachineDowntime.starts_at) <= now,
        (col(MachineDowntime.ends_at).is_(None)) | (col(MachineDowntime.ends_at) > now),
    )
    query = (
        select(Machine, MachineStatus, MachineRun, LabSession, operator, holder)
        .outerjoin(MachineStatus, col(MachineStatus.machine_id) == Machine.id)
        .outerjoin(MachineRun, col(MachineRun.id) == MachineStatus.run_id)
        .outerjoin(
            LabSession,
            and_(col(LabSession.machine_id) == Machine.id, col(LabSession.closed_at).is_(None)),
        )
        .outerjoin(operator, col(operator.id) == MachineRun.operator_id)
        .outerjoin(holder, col(holder.id) == LabSession.contributor_id)
        .add_columns(down.limit(1).scalar_subquery())
        .where(col(Machine.active))
        .order_by(col(Machine.name))
    )
    result = []
    for machine, status, run, session, op, who, reason in db.execute(query).all():
        person = op or who
        result.append(
            MachineNow(
                machine_id=machine.id,
                name=machine.name,
                kind=machine.kind,
                state=status.state if status else "unknown",
                since=status.since if status else None,
                last_event_at=status.last_event_at if status else None,
                job=run.job if run else None,
                progress=run.progress if run else None,
                power_w=status.power_w if status else None,
                run_id=run.id if run else None,
                run_started_at=run.started_at if run else None,
                operator_id=person.id if person else None,
                operator=person.display_name if person else None,
                session_since=session.opened_at if session else None,
                out_of_service=reason,
            )
        )
    return result


def present_now(db: Session) -> list[PresentNow]:
    """Every open session, with the person and machine names."""
    rows = db.execute(
        select(LabSession, col(Contributor.display_name), col(Machine.name))
        .join(Contributor, col(Contributor.id) == LabSession.contributor_id)
        .outerjoin(Machine, col(Machine.id) == LabSession.machine_id)
        .where(col(LabSession.closed_at).is_(None))
        .order_by(col(LabSession.opened_at))
    ).all()
    return [
        PresentNow(
            session_id=s.id,
            contributor_id=s.contributor_id,
            contributor=name,
            machine_id=s.machine_id,
            machine=machine,
            since=s.opened_at,
        )
        for s, name, machine in rows
    ]


def unknown_scans_now(db: Session, limit: int = 10) -> list[UnknownScanNow]:
    """The most recent scans of unknown or revoked cards."""
    rows = db.execute(
        select(UnknownScan, col(Reader.name))
        .join(Reader, col(Reader.id) == UnknownScan.reader_id)
        .order_by(col(UnknownScan.at).desc(), col(UnknownScan.id).desc())
        .limit(limit)
    ).all()
    return [
        UnknownScanNow(id=u.id, card_id=u.card_id, reason=u.reason, reader=name, at=u.at)
        for u, name in rows
    ]


def lab_now(db: Session) -> LabNow:
    """The lab at a glance."""
    return LabNow(
        at=utcnow(),
        machines=machines_now(db),
        present=present_now(db),
        unknown_scans=unknown_scans_now(db),
    )
