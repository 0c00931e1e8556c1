"""Maintenance and out-of-service windows of machines.

A window runs from `starts_at` to `ends_at` (open-ended while `ends_at` is
null). Time inside a window is not available time: utilisation divides busy
hours by the hours a machine was available, and access control asks
`machine_out_of_service` before letting anyone start a machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import model_validator
from sqlmodel import Field, Session, SQLModel, col, or_, select

from app.db import UTCDateTime, utcnow
from app.errors import InvalidInput
from app.fields import LongText
from app.lab.models import Strict


class MachineDowntime(SQLModel, table=True):
    """A window in which a machine is under maintenance or out of service."""

    __tablename__ = "machine_downtime"

    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DowntimeCreate(Strict):
    """A new window; without `ends_at` the machine is out of service until further notice."""

    starts_at: datetime = Field(description="When the window starts (with a time zone).")
    ends_at: datetime | None = Field(
        default=None, description="When it ends; leave out while out of service indefinitely."
    )
    reason: LongText = Field(default="", description="Why: maintenance, repair, broken part...")

    @model_validator(mode="after")
    def _ordered(self) -> DowntimeCreate:
        """Timestamps carry a zone and the window does not end before it starts."""
        _check_window(self.starts_at, self.ends_at)
        return self


class DowntimeUpdate(Strict):
    """Change a window: typically to end it."""

    starts_at: datetime | None = Field(default=None, description="New start (with a time zone).")
    ends_at: datetime | None = Field(
        default=None, description="New end; null makes the window open-ended again."
    )
    reason: LongText | None = Field(default=None, description="New reason.")


class DowntimePublic(SQLModel):
    """A window as the API shows it."""

    id: int
    machine_id: int
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    created_at: datetime


def _check_window(starts_at: datetime, ends_at: datetime | None) -> None:
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise InvalidInput("timestamps need a time zone (e.g. 2026-05-01T08:00:00Z)")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at", {"field": "ends_at"})


def add_downtime(session: Session, machine_id: int, data: DowntimeCreate) -> MachineDowntime:
    """Store a window for a machine."""
    row = MachineDowntime(machine_id=machine_id, **data.model_dump())
    session.add(row)
    session.commit()
    return row


def change_downtime(
    session: Session, row: MachineDowntime, data: DowntimeUpdate
) -> MachineDowntime:
    """Apply the sent fields to a window (`ends_at` may be set back to null)."""
    changes = data.model_dump(exclude_unset=True)
    if changes.get("starts_at", 0) is None or changes.get("reason", "") is None:
        raise InvalidInput("starts_at and reason cannot be null")
    for field, value in changes.items():
        setattr(row, field, value)
    _check_window(row.starts_at, row.ends_at)
    session.commit()
    return row


def machine_out_of_service(
    session: Session, machine_id: int, at: datetime
) -> MachineDowntime | None:
    """The window that covers `at` for this machine, or None when it is available."""
    return session.exec(
        select(MachineDowntime)
        .where(
            MachineDowntime.machine_id == machine_id,
            col(MachineDowntime.starts_at) <= at,
            or_(col(MachineDowntime.ends_at).is_(None), col(MachineDowntime.ends_at) > at),
        )
        .order_by(col(MachineDowntime.starts_at).desc())
    ).first()


def windows_between(
    session: Session, start: datetime, end: datetime, machine_ids: Iterable[int] | None = None
) -> list[MachineDowntime]:
    """Every window that overlaps [start, end), optionally only for some machines."""
    query = select(MachineDowntime).where(
        col(MachineDowntime.starts_at) < end,
        or_(col(MachineDowntime.ends_at).is_(None), col(MachineDowntime.ends_at) > start),
    )
    if machine_ids is not None:
        query = query.where(col(MachineDowntime.machine_id).in_(list(machine_ids)))
    return list(session.exec(query).all())


def overlap_seconds(
    windows: Iterable[MachineDowntime], start: datetime, end: datetime, now: datetime
) -> float:
    """Seconds of [start, end) covered by the windows (overlapping windows counted once)."""
    spans = sorted(
        (max(w.starts_at, start), min(w.ends_at or max(now, start), end)) for w in windows
    )
    total = 0.0
    cursor = start
    for lo, hi in spans:
        lo = max(lo, cursor)
        if hi > lo:
            total += (hi - lo).total_seconds()
            cursor = hi
    return total
