"""Tables of what happens in the lab: device events, sessions, runs, machine status.

Device events are recorded once each (their `event_id` is unique), so a
redelivered message is a no-op; a message without an id or a time is recognised
by its `fingerprint` within the redelivery window only. Sessions and runs are
derived from them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class CloseReason(StrEnum):
    """Why a session ended."""

    BADGE_OUT = "badge_out"
    HANDOVER = "handover"
    TIMEOUT = "timeout"
    OFFLINE = "offline"
    ADMIN = "admin"
    MAX_LENGTH = "max_length"


class RunStatus(StrEnum):
    """Where a run is in its life."""

    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


class EndReason(StrEnum):
    """How a run ended."""

    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    OFFLINE = "offline"
    ABANDONED = "abandoned"


class Provenance(StrEnum):
    """Where a run's duration came from."""

    MEASURED = "measured"
    DEVICE_REPORTED = "device_reported"
    CLOSED_AT_LAST_SAMPLE = "closed_at_last_sample"
    MANUAL = "manual"


class DeviceEvent(SQLModel, table=True):
    """One decoded device event, recorded exactly once."""

    __tablename__ = "device_event"
    __table_args__ = (
        UniqueConstraint("event_id"),
        Index("ix_device_event_machine_order", "machine_id", "at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    source: str = Field(max_length=300)
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    reader_id: int | None = Field(default=None, foreign_key="reader.id")
    at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    state: str | None = Field(default=None, max_length=16)
    card_id: str | None = Field(default=None, max_length=64)
    body: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # Set for a message without id or time: a copy within the redelivery window is a duplicate.
    fingerprint: str | None = Field(default=None, max_length=64, index=True)


class DecodeReject(SQLModel, table=True):
    """A message that did not decode, kept (a bounded number of them) for review."""

    __tablename__ = "decode_reject"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=300, index=True)
    reason: str = Field(max_length=500)
    raw_hex: str = Field(default="", sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UnknownScan(SQLModel, table=True):
    """A badge scan that opened nothing (unknown or revoked card), visible for enrolment."""

    __tablename__ = "unknown_scan"
    __table_args__ = (
        Index("ix_unknown_scan_page", "at", "id"),
        Index("ix_unknown_scan_reader_page", "reader_id", "at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reader_id: int = Field(foreign_key="reader.id")
    card_id: str = Field(max_length=64, index=True)
    reason: str = Field(max_length=32)
    at: datetime = Field(sa_type=UTCDateTime)
    event_id: str = Field(max_length=128)


class LabSession(SQLModel, table=True):
    """A contributor present at a machine (or at the door), from badge-in to its close."""

    __tablename__ = "lab_session"
    __table_args__ = (
        # At most one open session per machine.
        Index(
            "uq_lab_session_open_machine",
            "machine_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL AND machine_id IS NOT NULL"),
            postgresql_where=text("closed_at IS NULL AND machine_id IS NOT NULL"),
        ),
        # Lists page newest first by (opened_at, id), optionally within one filter.
        Index("ix_lab_session_page", "opened_at", "id"),
        Index("ix_lab_session_machine_page", "machine_id", "opened_at", "id"),
        Index("ix_lab_session_contributor_page", "contributor_id", "opened_at", "id"),
        Index("ix_lab_session_product_page", "product_id", "opened_at", "id"),
        Index(
            "ix_lab_session_open_page",
            "opened_at",
            "id",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    contributor_id: int = Field(foreign_key="contributor.id")
    badge_id: int | None = Field(default=None, foreign_key="badge.id")
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    reader_id: int | None = Field(default=None, foreign_key="reader.id")
    product_id: int | None = Field(default=None, foreign_key="product.id")
    role: str | None = Field(default=None, max_length=50)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    close_reason: str | None = Field(default=None, max_length=16)
    closed_by: str | None = Field(default=None, max_length=200)
    last_activity_at: datetime = Field(sa_type=UTCDateTime)
    open_event_id: str | None = Field(default=None, max_length=128)
    # A session closed at its maximum length waits for review: its labour is pending.
    flagged: bool = Field(default=False)
    flag_reason: str | None = Field(default=None, max_length=200)


class MachineRun(SQLModel, table=True):
    """An interval of machine time measured from the device itself."""

    __tablename__ = "machine_run"
    __table_args__ = (
        # Lists page newest first by (started_at, id), optionally within one filter.
        Index("ix_machine_run_page", "started_at", "id"),
        Index("ix_machine_run_machine_page", "machine_id", "started_at", "id"),
        Index("ix_machine_run_operator_page", "operator_id", "started_at", "id"),
        Index("ix_machine_run_product_page", "product_id", "started_at", "id"),
        Index(
            "ix_machine_run_open_page",
            "started_at",
            "id",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        # Runs nobody claimed (`unattributed=true`), in list order.
        Index(
            "ix_machine_run_unattributed_page",
            "started_at",
            "id",
            sqlite_where=text("operator_id IS NULL"),
            postgresql_where=text("operator_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id")
    status: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    busy_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    busy_s: float = Field(default=0.0)
    end_reason: str | None = Field(default=None, max_length=16)
    provenance: str | None = Field(default=None, max_length=32)
    flagged: bool = Field(default=False)
    flag_reason: str | None = Field(default=None, max_length=200)
    job: str | None = Field(default=None, max_length=500)
    progress: float | None = Field(default=None)
    energy_wh: float | None = Field(default=None)
    material: float | None = Field(default=None)
    reported_busy_s: float | None = Field(default=None)
    last_sample_at: datetime = Field(sa_type=UTCDateTime)
    operator_id: int | None = Field(default=None, foreign_key="contributor.id")
    product_id: int | None = Field(default=None, foreign_key="product.id")
    session_id: int | None = Field(default=None, foreign_key="lab_session.id")
    attribution: str | None = Field(default=None, max_length=16)
    start_event_id: str = Field(max_length=128)


class MachineStatus(SQLModel, table=True):
    """A machine's current state; its row is the lock that serialises the machine's events."""

    __tablename__ = "machine_status"

    machine_id: int = Field(foreign_key="machine.id", primary_key=True)
    state: str = Field(default="unknown", max_length=16)
    since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_event_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_event_id: str | None = Field(default=None, max_length=128)
    run_id: int | None = Field(default=None)
    progress: float | None = Field(default=None)
    job: str | None = Field(default=None, max_length=500)
    power_w: float | None = Field(default=None)
