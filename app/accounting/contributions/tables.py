"""The contribution table and its vocabulary: kinds, units, sources and statuses.

A contribution's `quantity` is an exact integer in the unit its kind fixes:

- time kinds (`labour`, `machine`, `design`, `documentation`): milliseconds
  (`ms`), so a device's fractional busy seconds and hours typed with up to four
  decimals are both held without rounding;
- `money`, `materials`: minor units (`minor`) of the row's `currency`;
- `citation`: milli-points (`millipoint`, 1/1000 point) when given as points,
  basis points (`basis_point`, 1/100 %) when given as a percentage.

Derived rows (from closed sessions and ended runs) are unique by
(`source`, `source_id`); hand-entered rows have source `manual` and no source id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.accounting.engine.equation import ContributionKind
from app.db import UTCDateTime, utcnow

#: Kinds whose quantity is time, in milliseconds.
TIME_KINDS: Final = frozenset(
    {
        ContributionKind.LABOUR,
        ContributionKind.MACHINE,
        ContributionKind.DESIGN,
        ContributionKind.DOCUMENTATION,
    }
)
#: Kinds whose quantity is money, in minor units of the row's currency.
MONEY_KINDS: Final = frozenset({ContributionKind.MONEY, ContributionKind.MATERIALS})

MS_PER_HOUR: Final = 3_600_000
MILLIPOINTS_PER_POINT: Final = 1000
BASIS_POINTS_PER_PERCENT: Final = 100


class Unit(StrEnum):
    """The unit of a contribution's integer quantity."""

    MS = "ms"
    MINOR = "minor"
    MILLIPOINT = "millipoint"
    BASIS_POINT = "basis_point"


class ContributionSource(StrEnum):
    """Where a contribution came from: a closed session, an ended run, or an operator."""

    SESSION = "session"
    RUN = "run"
    MANUAL = "manual"


class ContributionStatus(StrEnum):
    """Whether a contribution counts: only `approved` ones do."""

    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    EXCLUDED = "excluded"


class Contribution(SQLModel, table=True):
    """One contribution of a contributor, tagged to a product or to none."""

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index("ix_contribution_product_counted", "product_id", "status", "occurred_at"),
        # Lists page newest first by (occurred_at, id), optionally within one filter.
        Index("ix_contribution_page", "occurred_at", "id"),
        Index("ix_contribution_product_page", "product_id", "occurred_at", "id"),
        Index("ix_contribution_contributor_page", "contributor_id", "occurred_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contributor_id: int = Field(foreign_key="contributor.id")
    product_id: int | None = Field(default=None, foreign_key="product.id")
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    quantity: int = Field(sa_column=Column(BigInteger, nullable=False))
    unit: str = Field(sa_column=Column(String(16), nullable=False))
    currency: str | None = Field(default=None, max_length=3)
    role: str | None = Field(default=None, max_length=50)
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    machine_kind: str | None = Field(default=None, max_length=16)
    revision: str | None = Field(default=None, max_length=500)
    source: str = Field(sa_column=Column(String(16), nullable=False))
    source_id: int | None = Field(default=None)
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    reason: str | None = Field(default=None, max_length=500)
    note: str = Field(default="", max_length=4000)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=200)
    # The API key that entered a manual row: it cannot approve that row.
    created_by_key: int | None = Field(default=None)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContributionPending(SQLModel, table=True):
    """A session or run that changed since contributions were last derived from it.

    Rows are written by database triggers (migration 0011) whenever a closed
    session or an ended run is inserted or updated, whatever code wrote it,
    and removed by the derivation that handles them: deriving reads only these.
    """

    __tablename__ = "contribution_pending"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_column=Column(String(16), nullable=False))
    source_id: int = Field()
