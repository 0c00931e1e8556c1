"""Tables and schemas of access: machine groups, trainers, inductions, denied scans, power.

Nothing here is deleted: a trainer or an induction is revoked (with who and why),
a group is deactivated, a command is superseded. A machine's access settings
(`requires_induction`, its interlock) are columns of `machine` (app.lab.models).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.fields import LongText, Name, RowId
from app.lab.models import Strict


class DenyReason(StrEnum):
    """Why a badge scan opened no session."""

    NOT_INDUCTED = "not_inducted"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN_CARD = "unknown_card"
    OUT_OF_SERVICE = "out_of_service"


class CommandStatus(StrEnum):
    """Where a power command is: waiting to be sent, sent, confirmed, failed or replaced."""

    PENDING = "pending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    SUPERSEDED = "superseded"


OPEN_COMMANDS = (CommandStatus.PENDING, CommandStatus.SENT)


# --- machine groups -----------------------------------------------------------


class MachineGroup(SQLModel, table=True):
    """A set of machines one induction covers (all the FDM printers)."""

    __tablename__ = "machine_group"
    __table_args__ = (UniqueConstraint("name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MachineGroupMember(SQLModel, table=True):
    """One machine in one group."""

    __tablename__ = "machine_group_member"

    group_id: int = Field(foreign_key="machine_group.id", primary_key=True)
    machine_id: int = Field(foreign_key="machine.id", primary_key=True, index=True)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MachineGroupCreate(Strict):
    """A new group, optionally with its machines."""

    name: Name
    description: LongText = ""
    machine_ids: list[RowId] = Field(default_factory=list, max_length=500)


class MachineGroupUpdate(Strict):
    """Rename a group or set its machines (the list replaces the old one)."""

    name: Name | None = None
    description: LongText | None = None
    machine_ids: list[RowId] | None = Field(default=None, max_length=500)


class MachineGroupPublic(SQLModel):
    """A group as the API shows it, with its machines."""

    id: int
    name: str
    description: str
    active: bool
    machine_ids: list[int]
    created_at: datetime
    updated_at: datetime


# --- trainers and inductions --------------------------------------------------


class Trainer(SQLModel, table=True):
    """A contributor who may induct others on one machine or one group."""

    __tablename__ = "trainer"

    id: int | None = Field(default=None, primary_key=True)
    contributor_id: int = Field(foreign_key="contributor.id", index=True)
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    group_id: int | None = Field(default=None, foreign_key="machine_group.id")
    note: str = Field(default="", max_length=4000)
    appointed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    appointed_by: str = Field(default="", max_length=200)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=200)


class TrainerCreate(Strict):
    """Appoint a trainer for exactly one of a machine or a group."""

    contributor_id: RowId
    machine_id: RowId | None = None
    group_id: RowId | None = None
    note: LongText = ""


class TrainerPublic(SQLModel):
    """A trainer appointment as the API shows it."""

    id: int
    contributor_id: int
    machine_id: int | None
    group_id: int | None
    note: str
    appointed_at: datetime
    appointed_by: str
    revoked_at: datetime | None
    revoked_by: str | None


class Induction(SQLModel, table=True):
    """Permission for one contributor to use one machine, or every machine of a group."""

    __tablename__ = "induction"
    __table_args__ = (
        Index("ix_induction_contributor_scope", "contributor_id", "machine_id"),
        # The list pages newest grant first by (granted_at, id), optionally for one person.
        Index("ix_induction_page", "granted_at", "id"),
        Index("ix_induction_contributor_page", "contributor_id", "granted_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contributor_id: int = Field(foreign_key="contributor.id")
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    group_id: int | None = Field(default=None, foreign_key="machine_group.id", index=True)
    trainer_id: int = Field(foreign_key="contributor.id")
    granted_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=4000)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_by: str = Field(default="", max_length=200)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=200)
    revoke_reason: str | None = Field(default=None, max_length=4000)


class InductionCreate(Strict):
    """Grant an induction: exactly one of machine or group, by a trainer for it."""

    contributor_id: RowId
    machine_id: RowId | None = None
    group_id: RowId | None = None
    trainer_id: RowId
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    note: LongText = ""


class InductionRevoke(Strict):
    """Why an induction ends early."""

    reason: Name


class InductionPublic(SQLModel):
    """An induction as the API shows it, with whether it is valid now."""

    id: int
    contributor_id: int
    machine_id: int | None
    group_id: int | None
    trainer_id: int
    granted_at: datetime
    expires_at: datetime | None
    note: str
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    status: str


# --- denied scans and power ---------------------------------------------------


class DeniedScan(SQLModel, table=True):
    """A badge scan that opened no session, with why; kept for the Review page."""

    __tablename__ = "denied_scan"
    __table_args__ = (
        UniqueConstraint("event_id"),
        # The list pages newest first by (at, id), optionally within one filter.
        Index("ix_denied_scan_page", "at", "id"),
        Index("ix_denied_scan_reader_page", "reader_id", "at", "id"),
        Index("ix_denied_scan_machine_page", "machine_id", "at", "id"),
        Index("ix_denied_scan_contributor_page", "contributor_id", "at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    reader_id: int = Field(foreign_key="reader.id")
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    card_id: str = Field(max_length=64)
    contributor_id: int | None = Field(default=None, foreign_key="contributor.id")
    reason: str = Field(sa_column=Column(String(16), nullable=False))
    detail: str = Field(default="", max_length=500)
    at: datetime = Field(sa_type=UTCDateTime)


class DeniedScanPublic(SQLModel):
    """A denied scan as the API shows it."""

    id: int
    event_id: str
    reader_id: int
    machine_id: int | None
    card_id: str
    contributor_id: int | None
    reason: DenyReason
    detail: str
    at: datetime


class PowerCommand(SQLModel, table=True):
    """One wish for a machine's relay (on or off), sent by ingest and confirmed by the device."""

    __tablename__ = "power_command"
    # A machine's commands newest first (the list, the newest command) without a sort.
    __table_args__ = (Index("ix_power_command_machine_page", "machine_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id")
    want_on: bool
    reason: str = Field(max_length=32)
    status: str = Field(default=CommandStatus.PENDING, sa_column=Column(String(16), nullable=False))
    requested_at: datetime = Field(sa_type=UTCDateTime)
    not_before: datetime = Field(sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    detail: str = Field(default="", max_length=500)


class PowerCommandPublic(SQLModel):
    """A power command as the API shows it."""

    id: int
    machine_id: int
    want_on: bool
    reason: str
    status: CommandStatus
    requested_at: datetime
    not_before: datetime
    attempts: int
    sent_at: datetime | None
    confirmed_at: datetime | None
    failed_at: datetime | None
    detail: str


class PowerState(SQLModel, table=True):
    """What a machine's relay last reported, and what LabLedger is waiting for before off."""

    __tablename__ = "power_state"

    machine_id: int = Field(foreign_key="machine.id", primary_key=True)
    reported_on: bool | None = Field(default=None)
    reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    holding: str | None = Field(default=None, max_length=200)


class PowerStatePublic(SQLModel):
    """A machine's relay as the API shows it."""

    machine_id: int
    interlock: str | None
    interlock_address: str | None
    reported_on: bool | None
    reported_at: datetime | None
    holding: str | None
    last_command: PowerCommandPublic | None
