"""Tables and schemas of the lab: contributors, badges, machines, readers.

Per entity a small family: `XBase` (shared fields), `XCreate`, `XUpdate`,
`X` (the table) and `XPublic` (what the API returns). Nothing that history
refers to is ever deleted: rows are deactivated (badges revoked).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict
from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.fields import (
    EMAIL_LEN,
    LABEL_LEN,
    LONG_LEN,
    NAME_LEN,
    TEXT_LEN,
    Email,
    Label,
    LongText,
    Name,
    OptionalName,
    RowId,
    ShortText,
)

COMMONS_FUND_ID = 1
COMMONS_FUND_NAME = "Commons fund"


class MachineKind(StrEnum):
    """What sort of equipment a machine is."""

    PRINTER = "printer"
    LASER = "laser"
    CNC = "cnc"
    INSTRUMENT = "instrument"
    OTHER = "other"


class Adapter(StrEnum):
    """How LabLedger hears from a machine (one codec per adapter in `devices.registry`)."""

    BAMBU = "bambu"
    OCTOPRINT = "octoprint"
    MOONRAKER = "moonraker"
    TASMOTA = "tasmota"
    SHELLY = "shelly"
    MARLIN = "marlin"
    SCPI = "scpi"
    LAB = "lab"


class ReaderProtocol(StrEnum):
    """How a badge reader talks: lab/v1 MQTT or one of the serial reader formats."""

    MQTT = "mqtt"
    RDM6300 = "rdm6300"
    ID12LA = "id12la"
    WEDGE = "wedge"
    WIEGAND26 = "wiegand26"


class Interlock(StrEnum):
    """How LabLedger switches a machine's power relay (see docs/access.md)."""

    TASMOTA = "tasmota"
    SHELLY = "shelly"
    LAB = "lab"


class BadgeStatus(StrEnum):
    """A badge opens sessions only while active."""

    ACTIVE = "active"
    REVOKED = "revoked"


class Strict(SQLModel):
    """Request schemas refuse fields they do not know."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


# --- contributors -------------------------------------------------------------


class Contributor(SQLModel, table=True):
    """A person, or the lab's commons fund, who can earn."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LEN, index=True)
    email: str | None = Field(default=None, max_length=EMAIL_LEN)
    display_name: str = Field(max_length=NAME_LEN)
    payout_details: str = Field(default="", max_length=LONG_LEN)
    role: str = Field(default="maker", max_length=LABEL_LEN)
    name_public: bool = Field(default=False)
    is_commons_fund: bool = Field(default=False)
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContributorCreate(Strict):
    """A new contributor."""

    name: Name
    email: Email | None = None
    display_name: Name | None = None
    payout_details: LongText = ""
    role: Label = "maker"
    name_public: bool = Field(
        default=False, description="Show the display name on the public view (else a pseudonym)."
    )


class ContributorUpdate(Strict):
    """Fields of a contributor that can change."""

    name: Name | None = None
    email: Email | None = None
    display_name: Name | None = None
    payout_details: LongText | None = None
    role: Label | None = None
    name_public: bool | None = Field(
        default=None, description="Show the display name on the public view (else a pseudonym)."
    )


class ContributorPublic(SQLModel):
    """A contributor as the API shows it to keyholders."""

    id: int
    name: str
    email: str | None
    display_name: str
    payout_details: str
    role: str
    name_public: bool
    is_commons_fund: bool
    active: bool
    created_at: datetime
    updated_at: datetime


# --- badges -------------------------------------------------------------------


class Badge(SQLModel, table=True):
    """A card, in canonical form, belonging to one contributor."""

    __table_args__ = (
        UniqueConstraint("card_id"),
        # A person's badges in list order (id) without a sort.
        Index("ix_badge_contributor_page", "contributor_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    card_id: str = Field(max_length=64)
    contributor_id: int = Field(foreign_key="contributor.id")
    label: str = Field(default="", max_length=NAME_LEN)
    status: str = Field(default=BadgeStatus.ACTIVE, sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BadgeCreate(Strict):
    """Enrol a card for a contributor; any reader's form of the card id is accepted."""

    card_id: ShortText
    contributor_id: RowId
    label: OptionalName = ""


class BadgeUpdate(Strict):
    """Change a badge's label, owner or status."""

    label: OptionalName | None = None
    contributor_id: RowId | None = None
    status: BadgeStatus | None = None


class BadgePublic(SQLModel):
    """A badge as the API shows it."""

    id: int
    card_id: str
    contributor_id: int
    label: str
    status: BadgeStatus
    created_at: datetime
    revoked_at: datetime | None


# --- machines -----------------------------------------------------------------


class Machine(SQLModel, table=True):
    """A printer, laser, CNC or instrument whose time is measured."""

    __table_args__ = (
        UniqueConstraint("name"),
        UniqueConstraint("adapter", "address"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LEN)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    adapter: str = Field(sa_column=Column(String(16), nullable=False))
    address: str = Field(max_length=TEXT_LEN)
    provider_id: int = Field(foreign_key="contributor.id", index=True)
    running_threshold_w: float | None = Field(default=None)
    run_start_after_s: float = Field(default=10.0)
    run_stop_after_s: float = Field(default=30.0)
    idle_timeout_s: int = Field(default=1800)
    requires_induction: bool = Field(default=False)
    interlock: str | None = Field(default=None, max_length=16)
    interlock_address: str | None = Field(default=None, max_length=500)
    interlock_cooldown_s: int = Field(default=0)
    max_session_s: int | None = Field(default=None)
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MachineCreate(Strict):
    """A new machine; the provider defaults to the commons fund.

    Power-sensed machines (tasmota, shelly) need `running_threshold_w`; a run starts
    when power stays above it for `run_start_after_s` and stops when it stays below
    half of it for `run_stop_after_s`.

    With `requires_induction` a badge-in needs a valid induction; with an
    `interlock` (and its `interlock_address`) LabLedger switches the machine's
    power relay, waiting `interlock_cooldown_s` after a run before switching off.
    A session at the machine longer than
    `max_session_s` (default `LABLEDGER_MAX_SESSION_S`) is closed at that length and
    flagged for review.
    """

    name: Name
    kind: MachineKind
    adapter: Adapter
    address: ShortText
    provider_id: RowId = COMMONS_FUND_ID
    running_threshold_w: float | None = Field(default=None, gt=0, le=1_000_000)
    run_start_after_s: float = Field(default=10.0, ge=0, le=3600)
    run_stop_after_s: float = Field(default=30.0, ge=0, le=3600)
    idle_timeout_s: int = Field(default=1800, ge=30, le=7 * 86400)
    requires_induction: bool = False
    interlock: Interlock | None = None
    interlock_address: ShortText | None = None
    interlock_cooldown_s: int = Field(default=0, ge=0, le=86400)
    max_session_s: int | None = Field(default=None, ge=60, le=7 * 86400)


class MachineUpdate(Strict):
    """Fields of a machine that can change."""

    name: Name | None = None
    kind: MachineKind | None = None
    adapter: Adapter | None = None
    address: ShortText | None = None
    provider_id: RowId | None = None
    running_threshold_w: float | None = Field(default=None, gt=0, le=1_000_000)
    run_start_after_s: float | None = Field(default=None, ge=0, le=3600)
    run_stop_after_s: float | None = Field(default=None, ge=0, le=3600)
    idle_timeout_s: int | None = Field(default=None, ge=30, le=7 * 86400)
    requires_induction: bool | None = None
    interlock: Interlock | None = None
    interlock_address: ShortText | None = None
    interlock_cooldown_s: int | None = Field(default=None, ge=0, le=86400)
    max_session_s: int | None = Field(default=None, ge=60, le=7 * 86400)


class MachinePublic(SQLModel):
    """A machine as the API shows it; `routing_problem` says why it is not listened to."""

    id: int
    name: str
    kind: MachineKind
    adapter: Adapter
    address: str
    provider_id: int
    running_threshold_w: float | None
    run_start_after_s: float
    run_stop_after_s: float
    idle_timeout_s: int
    requires_induction: bool
    interlock: Interlock | None
    interlock_address: str | None
    interlock_cooldown_s: int
    max_session_s: int | None
    active: bool
    created_at: datetime
    updated_at: datetime
    routing_problem: str | None = None


# --- readers ------------------------------------------------------------------


class Reader(SQLModel, table=True):
    """A badge reader, bound to a machine or (no machine) to the lab door."""

    __table_args__ = (UniqueConstraint("name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LEN)
    protocol: str = Field(default=ReaderProtocol.MQTT, sa_column=Column(String(16), nullable=False))
    address: str | None = Field(default=None, max_length=TEXT_LEN)
    machine_id: int | None = Field(default=None, foreign_key="machine.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReaderCreate(Strict):
    """A new reader: `address` is its lab/v1 topic segment (default: its name) or serial port.

    A reader bound to a product tags the sessions it opens with that product.
    """

    name: Name
    protocol: ReaderProtocol = ReaderProtocol.MQTT
    address: ShortText | None = None
    machine_id: RowId | None = None
    product_id: RowId | None = None


class ReaderUpdate(Strict):
    """Fields of a reader that can change."""

    name: Name | None = None
    protocol: ReaderProtocol | None = None
    address: ShortText | None = None
    machine_id: RowId | None = None
    product_id: RowId | None = None


class ReaderPublic(SQLModel):
    """A reader as the API shows it; `routing_problem` says why it is not listened to."""

    id: int
    name: str
    protocol: ReaderProtocol
    address: str | None
    machine_id: int | None
    product_id: int | None
    active: bool
    created_at: datetime
    updated_at: datetime
    routing_problem: str | None = None
