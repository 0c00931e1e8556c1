"""What the API shows of sessions, runs, unknown scans and rejects, and what it accepts."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlmodel import SQLModel

from app.fields import RowId
from app.lab.models import Strict


class SessionPublic(SQLModel):
    """A badge session."""

    id: int
    contributor_id: int
    badge_id: int | None
    machine_id: int | None
    reader_id: int | None
    product_id: int | None
    role: str | None
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    closed_by: str | None
    last_activity_at: datetime
    flagged: bool = False
    flag_reason: str | None = None


class SessionTag(Strict):
    """Tag a session (and the runs it attributed) with a product."""

    product_id: RowId | None


class RunPublic(SQLModel):
    """A machine run."""

    id: int
    machine_id: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    busy_s: float
    wall_s: float | None = None
    end_reason: str | None
    provenance: str | None
    flagged: bool
    flag_reason: str | None
    job: str | None
    progress: float | None
    energy_wh: float | None
    material: float | None
    reported_busy_s: float | None
    operator_id: int | None
    product_id: int | None
    session_id: int | None
    attribution: str | None


class RunAssignment(Strict):
    """Assign a run to an operator and a product after review."""

    operator_id: RowId
    product_id: RowId | None = None


class UnknownScanPublic(SQLModel):
    """A scan of a card nobody holds (or a revoked one), for enrolment."""

    id: int
    reader_id: int
    card_id: str
    reason: str
    at: datetime


class RejectPublic(SQLModel):
    """A message that did not decode."""

    id: int
    source: str
    reason: str
    raw_hex: str
    received_at: datetime


class BadgeEventIn(Strict):
    """A badge scan from a device that speaks HTTP; validated like lab/v1 MQTT."""

    reader: str = Field(min_length=1, max_length=200, description="The reader's name or address.")
    badge: str = Field(min_length=1, max_length=64)
    at: datetime | None = None
    id: str | None = Field(default=None, min_length=1, max_length=128)


class MachineEventIn(Strict):
    """A machine state from a device that speaks HTTP; validated like lab/v1 MQTT."""

    machine: str = Field(min_length=1, max_length=200, description="The machine's name or address.")
    state: str = Field(min_length=1, max_length=16)
    at: datetime | None = None
    id: str | None = Field(default=None, min_length=1, max_length=128)
    job: str | None = Field(default=None, max_length=500)
    progress: float | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    material: float | None = None
    reported_busy_s: float | None = None


class EventOutcome(SQLModel):
    """What posting an event did."""

    event_id: str
    recorded: bool
    outcome: str
    reason: str | None = None
