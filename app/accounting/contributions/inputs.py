"""The approved contributions of a product up to a moment, in the split engine's units.

Conversions from stored integers (see `contributions.tables`) to `ContributionInput`:
time kinds Fraction(ms, 3_600_000) hours; money and materials their minor units
as they are; citations Fraction(millipoints, 1000) points or
Fraction(basis_points, 100) percent.

Two kinds of rows cannot be counted under every equation, and are left out
(listed in `CountedContributions.left_out`) rather than misread:

- a citation in percent under an equation counting citations as points, or
  the other way round (the engine reads every citation in the equation's mode);
- money or materials in another currency than the sale's, when the caller
  names the sale's currency (the ledger keeps no exchange rates).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlmodel import Session, col, select

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.tables import (
    BASIS_POINTS_PER_PERCENT,
    MILLIPOINTS_PER_POINT,
    MONEY_KINDS,
    MS_PER_HOUR,
    TIME_KINDS,
    Contribution,
    ContributionStatus,
    Unit,
)
from app.accounting.engine.equation import CitationMode, ContributionInput, ContributionKind
from app.accounting.equations.versions import equation_in_force

log = logging.getLogger(__name__)

_CITATION_UNIT: dict[str, Unit] = {"points": Unit.MILLIPOINT, "percent": Unit.BASIS_POINT}


@dataclass(frozen=True, slots=True)
class CountedContributions:
    """What a split of a product would count, and the ids of approved rows it cannot count."""

    inputs: list[ContributionInput]
    left_out: list[int]


def _quantity(row: Contribution) -> Fraction:
    """A stored quantity in the unit the engine expects for its kind."""
    if row.unit == Unit.MS:
        return Fraction(row.quantity, MS_PER_HOUR)
    if row.unit == Unit.MILLIPOINT:
        return Fraction(row.quantity, MILLIPOINTS_PER_POINT)
    if row.unit == Unit.BASIS_POINT:
        return Fraction(row.quantity, BASIS_POINTS_PER_PERCENT)
    return Fraction(row.quantity)


def _countable(row: Contribution, citation_unit: Unit, currency: str | None) -> bool:
    """Whether the engine can read this row under the equation and currency given."""
    kind = ContributionKind(row.kind)
    if kind is ContributionKind.CITATION:
        return row.unit == citation_unit
    if kind in MONEY_KINDS:
        return currency is None or row.currency == currency
    return kind in TIME_KINDS


def counted_contributions(
    db: Session,
    product_id: int,
    at: datetime,
    *,
    citation_mode: CitationMode | None = None,
    currency: str | None = None,
    sync: bool = True,
) -> CountedContributions:
    """Sync derived rows (in the caller's transaction), then gather approved ones up to `at`.

    `citation_mode` defaults to that of the product's equation in force at `at`;
    `currency`, when given, is the sale's (money in other currencies is left out).
    """
    if sync:
        sync_derived_contributions(db, commit=False)
    if citation_mode is None:
        citation_mode = equation_in_force(db, product_id, at).rates.citation_mode
    citation_unit = _CITATION_UNIT[citation_mode]
    rows = db.exec(
        select(Contribution)
        .where(
            Contribution.product_id == product_id,
            Contribution.status == ContributionStatus.APPROVED.value,
            col(Contribution.occurred_at) <= at,
        )
        .order_by(col(Contribution.id))
    ).all()
    inputs: list[ContributionInput] = []
    left_out: list[int] = []
    for row in rows:
        assert row.id is not None
        if not _countable(row, citation_unit, currency):
            left_out.append(row.id)
            continue
        inputs.append(
            ContributionInput(
                contributor_id=row.contributor_id,
                kind=ContributionKind(row.kind),
                quantity=_quantity(row),
                role=row.role,
                machine_id=row.machine_id,
                machine_kind=row.machine_kind,
            )
        )
    if left_out:
        log.info(
            "contributions left out of product %s: %s (citation unit or currency)",
            product_id,
            left_out,
        )
    return CountedContributions(inputs, left_out)


def contributions_up_to(
    db: Session,
    product_id: int,
    at: datetime,
    *,
    citation_mode: CitationMode | None = None,
    currency: str | None = None,
) -> list[ContributionInput]:
    """The product's approved contributions up to `at`, as the split engine takes them.

    Derived rows are synced first, in the caller's transaction (nothing is committed).
    """
    return counted_contributions(
        db, product_id, at, citation_mode=citation_mode, currency=currency
    ).inputs
