"""What the contributions API accepts and shows.

A hand-entered contribution is one of four shapes, chosen by `kind`:

- `labour` (with an optional `role`), `design`, `documentation`: `hours` as a
  decimal string, up to 4 decimals ("2.5");
- `money`, `materials`: `amount` as a decimal string in `currency` ("12.34", "EUR"),
  no more decimals than the currency has;
- `citation`: of a design `revision`, either `points` (up to 3 decimals) or
  `percent` of the product's points (up to 2 decimals, below 100), not both.

Machine hours are never entered by hand: they come from runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator
from sqlmodel import SQLModel

from app.accounting.money import normalize_currency
from app.fields import LongText, RowId, ShortText
from app.lab.models import Strict

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=1)


def _plausible_time(moment: datetime) -> datetime:
    """A time in UTC, not before 2000 and not more than a day ahead."""
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range") from None
    if moment < _EARLIEST:
        raise ValueError("time is before 2000")
    if moment > datetime.now(UTC) + _FUTURE_SLACK:
        raise ValueError("time is in the future")
    return moment


def _in_utc(moment: datetime) -> datetime:
    """A time converted to UTC, refusing the few that do not fit in a year 1..9999."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range") from None


PastTime = Annotated[AwareDatetime, AfterValidator(_plausible_time)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
Hours = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,7}(\.[0-9]{1,4})?$"),
]
Amount = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$"),
]
Points = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,9}(\.[0-9]{1,3})?$"),
]
Percent = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,2}(\.[0-9]{1,2})?$"),
]
Currency = Annotated[
    str, StringConstraints(min_length=3, max_length=3), AfterValidator(normalize_currency)
]
RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class _EntryBase(Strict):
    """Fields every hand-entered contribution has."""

    contributor_id: RowId
    product_id: RowId | None = None
    note: LongText = ""
    occurred_at: PastTime | None = Field(default=None, description="Default: now.")


class LabourEntry(_EntryBase):
    """Hours of labour, in a role (default: the contributor's role)."""

    kind: Literal["labour"]
    hours: Hours
    role: RoleName | None = None


class WorkEntry(_EntryBase):
    """Hours of design or documentation work."""

    kind: Literal["design", "documentation"]
    hours: Hours


class MoneyEntry(_EntryBase):
    """Money put in, or materials given at their value."""

    kind: Literal["money", "materials"]
    amount: Amount
    currency: Currency


class CitationEntry(_EntryBase):
    """A citation of a design revision, worth points or a percentage of the product's points."""

    kind: Literal["citation"]
    revision: ShortText
    points: Points | None = None
    percent: Percent | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> CitationEntry:
        """A citation is counted in points or in percent, never both."""
        if (self.points is None) == (self.percent is None):
            raise ValueError("a citation needs exactly one of points or percent")
        return self


ContributionEntry = Annotated[
    LabourEntry | WorkEntry | MoneyEntry | CitationEntry, Field(discriminator="kind")
]


class Decision(Strict):
    """Why a contribution is rejected or excluded (kept with it)."""

    reason: ShortText


class ContributionPublic(SQLModel):
    """A contribution as the API shows it: the exact quantity, its unit, and a readable form."""

    id: int
    contributor_id: int
    product_id: int | None
    kind: str
    quantity: int
    unit: str
    currency: str | None
    display: str
    role: str | None
    machine_id: int | None
    machine_kind: str | None
    revision: str | None
    source: str
    source_id: int | None
    status: str
    reason: str | None
    note: str
    occurred_at: datetime
    created_at: datetime
    created_by: str | None
    decided_by: str | None
    decided_at: datetime | None


class SyncResult(SQLModel):
    """How many derived contributions a sync created or changed."""

    changed: int


__all__ = [
    "CitationEntry",
    "ContributionEntry",
    "ContributionPublic",
    "Decision",
    "LabourEntry",
    "MoneyEntry",
    "PastTime",
    "SyncResult",
    "UtcTime",
    "WorkEntry",
]
