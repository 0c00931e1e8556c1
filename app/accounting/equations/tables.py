"""The stored value-equation versions of products, and the API's form of an equation.

Request (`EquationCreate`), every number a decimal string so nothing is lost:

    {"effective_from": "2026-04-01T00:00:00Z",
     "rates": {"labour_per_hour": "1", "labour_by_role": {"designer": "1.5"},
               "machine_per_hour": "0.5", "machine_by_id": {"3": "2"},
               "machine_by_kind": {"laser": "1"}, "money_per_major_unit": "1",
               "materials_per_major_unit": "1", "design_per_hour": "1",
               "documentation_per_hour": "1", "citation_mode": "points"},
     "buckets": [
        {"name": "commons", "mode": "straight", "percent": "10", "paid_to": "commons_fund"},
        {"name": "printer", "mode": "straight", "percent": "5", "paid_to": "contributor",
         "contributor_id": 7, "cap": "1500.00"},
        {"name": "makers", "mode": "remaining", "percent": "100"}],
     "cap_currency": "EUR", "note": "why this version"}

- Rates are points per hour (time kinds) or per major currency unit (money,
  materials), up to 6 decimals; a rate left out takes the default equation's.
- A bucket's `percent` (up to 4 decimals, in (0, 100]) is of the whole net amount
  (`straight`) or of what the buckets before it left (`remaining`). It is paid to
  `contributors` by points (optionally counting only `kinds`), to the
  `commons_fund`, or to one `contributor` (`contributor_id`).
- `cap` (a decimal amount in `cap_currency`, stored as minor units) makes a
  fixed recipient's bucket debt-like: paid until the cap is reached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.accounting.contributions.schemas import Amount, Currency, RoleName, UtcTime
from app.accounting.engine.equation import CitationMode, ContributionKind
from app.db import UTCDateTime, utcnow
from app.fields import LongText, RowId
from app.lab.models import MachineKind, Strict


class ValueEquation(SQLModel, table=True):
    """One version of a product's value equation; rows are added, never changed."""

    __tablename__ = "value_equation"
    __table_args__ = (UniqueConstraint("product_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    version: int
    effective_from: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(sa_column=Column(Text, nullable=False))
    cap_currency: str | None = Field(default=None, max_length=3)
    note: str = Field(default="", max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=200)


Rate = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,9}(\.[0-9]{1,6})?$")
]
BucketPercent = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$")
]
BucketName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
PaidTo = Literal["contributors", "commons_fund", "contributor"]


class RatesIn(Strict):
    """Points per unit of each kind; any rate left out is the default equation's."""

    labour_per_hour: Rate | None = None
    labour_by_role: dict[RoleName, Rate] = Field(default_factory=dict, max_length=50)
    machine_per_hour: Rate | None = None
    machine_by_id: dict[RowId, Rate] = Field(default_factory=dict, max_length=200)
    machine_by_kind: dict[MachineKind, Rate] = Field(default_factory=dict)
    money_per_major_unit: Rate | None = None
    materials_per_major_unit: Rate | None = None
    design_per_hour: Rate | None = None
    documentation_per_hour: Rate | None = None
    citation_mode: CitationMode = "points"


class BucketIn(Strict):
    """One bucket of an equation, in order."""

    name: BucketName
    mode: Literal["straight", "remaining"]
    percent: BucketPercent
    paid_to: PaidTo = "contributors"
    contributor_id: RowId | None = None
    kinds: list[ContributionKind] | None = Field(default=None, min_length=1, max_length=7)
    cap: Amount | None = None


class EquationCreate(Strict):
    """A new version of a product's equation, in force from `effective_from`."""

    effective_from: UtcTime
    rates: RatesIn = Field(default_factory=RatesIn)
    buckets: list[BucketIn] = Field(min_length=1, max_length=20)
    cap_currency: Currency | None = None
    note: LongText = ""


class RatesOut(SQLModel):
    """Rates as exact decimal strings ("n/d" where a rate has no finite decimal form)."""

    labour_per_hour: str
    labour_by_role: dict[str, str]
    machine_per_hour: str
    machine_by_id: dict[int, str]
    machine_by_kind: dict[str, str]
    money_per_major_unit: str
    materials_per_major_unit: str
    design_per_hour: str
    documentation_per_hour: str
    citation_mode: str


class BucketOut(SQLModel):
    """One bucket as the API shows it; `cap_minor` is in the equation's `cap_currency`."""

    name: str
    mode: str
    percent: str
    paid_to: str
    contributor_id: int | None
    kinds: list[str] | None
    cap_minor: int | None
    cap: str | None


class EquationPublic(SQLModel):
    """One version of a product's equation; version 0 is the built-in default."""

    product_id: int
    version: int
    effective_from: datetime | None
    rates: RatesOut
    buckets: list[BucketOut]
    cap_currency: str | None
    note: str
    created_at: datetime | None
    created_by: str | None
