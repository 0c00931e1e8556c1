"""The approved contributions of a product up to a moment, in the split engine's units.

Conversions from stored integers (see `contributions.tables`) to `ContributionInput`:
time kinds Fraction(ms, 3_600_000) hours; money and materials their minor units
as they are; citations Fraction(millipoints, 1000) points or
Fraction(basis_points, 100) percent.

Two kinds of rows cannot be counted under every equation, and are left out
(listed in `CountedContributions.left_out`, and with the reason in
`CountedContributions.excluded`, which every split snapshot and preview
shows) rather than misread:

- a citation in percent under an equation counting citations as points, or
  the other way round (the engine reads every citation in the equation's mode);
- money or materials in another currency than the sale's, when the caller
  names the sale's currency (the ledger keeps no exchange rates).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlmodel import Session

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
class Exclusion:
    """An approved contribution a split could not count, and why."""

    contribution_id: int
    contributor_id: int
    kind: str
    reason: str

    def to_json(self) -> dict[str, object]:
        """The exclusion as stored in a split's snapshot."""
        return {
            "contribution_id": self.contribution_id,
            "contributor_id": self.contributor_id,
            "kind": self.kind,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CountedContributions:
    """What a split of a product would count, and the approved rows it cannot count."""

    inputs: list[ContributionInput]
    left_out: list[int]
    excluded: list[Exclusion]


def _quantity(unit: str, quantity: int) -> Fraction:
    """A stored quantity in the unit the engine expects for its kind."""
    if unit == Unit.MS:
        return Fraction(quantity, MS_PER_HOUR)
    if unit == Unit.MILLIPOINT:
        return Fraction(quantity, MILLIPOINTS_PER_POINT)
    if unit == Unit.BASIS_POINT:
        return Fraction(quantity, BASIS_POINTS_PER_PERCENT)
    return Fraction(quantity)


def _why_not_counted(
    kind_text: str, unit: str, row_currency: str | None, citation_unit: Unit, currency: str | None
) -> str | None:
    """Why the engine cannot read such a row under this equation and currency; None if it can."""
    kind = ContributionKind(kind_text)
    if kind is ContributionKind.CITATION:
        if unit == citation_unit:
            return None
        given = "percent" if unit == Unit.BASIS_POINT else "points"
        wanted = "percent" if citation_unit == Unit.BASIS_POINT else "points"
        return f"citation given in {given}; this equation counts citations in {wanted}"
    if kind in MONEY_KINDS:
        if currency is None or row_currency == currency:
            return None
        return (
            f"{kind.value} in {row_currency}, the sale is in {currency}: the ledger keeps no "
            "exchange rates, so it counts only money in the sale's currency"
        )
    return None if kind in TIME_KINDS else f"kind {kind.value} is not counted"


_C = Contribution.__table__  # type: ignore[attr-defined]
_GROUP = (
    _C.c.contributor_id,
    _C.c.kind,
    _C.c.unit,
    _C.c.role,
    _C.c.machine_id,
    _C.c.machine_kind,
    _C.c.currency,
)


def _counted_where(product_id: int, at: datetime) -> tuple[ColumnElement[bool], ...]:
    """Approved rows of the product up to `at` (served by ix_contribution_product_counted)."""
    return (
        _C.c.product_id == product_id,
        _C.c.status == ContributionStatus.APPROVED.value,
        _C.c.occurred_at <= at,
    )


def counted_contributions(
    db: Session,
    product_id: int,
    at: datetime,
    *,
    citation_mode: CitationMode | None = None,
    currency: str | None = None,
    sync: bool = True,
    grouped: bool = False,
) -> CountedContributions:
    """Sync derived rows (in the caller's transaction), then gather approved ones up to `at`.

    One indexed query, columns only (no ORM objects). With `grouped`, rows that
    count alike (same contributor, kind, unit, role, machine and currency) are
    summed by the database: points are linear in quantity, so a split over the
    sums is the same as over the rows, and costs what the contributors do, not
    what the history does. Without it, one input per row, in id order.
    `citation_mode` defaults to that of the product's equation in force at `at`;
    `currency`, when given, is the sale's (money in other currencies is left out).
    """
    if sync:
        sync_derived_contributions(db, commit=False)
    if citation_mode is None:
        citation_mode = equation_in_force(db, product_id, at).rates.citation_mode
    citation_unit = _CITATION_UNIT[citation_mode]
    where = _counted_where(product_id, at)
    if grouped:
        query = select(*_GROUP, func.sum(_C.c.quantity)).where(*where).group_by(*_GROUP)
    else:
        query = select(*_GROUP, _C.c.quantity).where(*where).order_by(_C.c.id)
    groups = db.execute(query).all()
    inputs, skipped = _inputs(groups, citation_unit, currency, grouped=grouped)
    excluded = _excluded(db, where, citation_unit, currency) if skipped else []
    left_out = [exclusion.contribution_id for exclusion in excluded]
    if left_out:
        log.info(
            "contributions left out of product %s: %s (citation unit or currency)",
            product_id,
            left_out,
        )
    return CountedContributions(list(inputs), left_out, excluded)


#: The inputs last built from each distinct set of rows. Every sale of a product reads the
#: same grouped rows until a contribution changes, and building a thousand exact inputs
#: cost more than reading them; equal rows (and unit, currency) give equal inputs.
_InputsKey = tuple[tuple[tuple[Any, ...], ...], Unit, str | None, bool]
_built: dict[_InputsKey, tuple[tuple[ContributionInput, ...], bool]] = {}
_BUILT_KEPT = 64
_ROWS_KEPT = 100_000  # bounds the memory kept (a row and its input: a few hundred bytes)


def _inputs(
    groups: Sequence[Row[Any]], citation_unit: Unit, currency: str | None, *, grouped: bool
) -> tuple[tuple[ContributionInput, ...], bool]:
    """The engine's inputs from the query's rows, and whether some rows were not counted."""
    rows = tuple(tuple(row) for row in groups)
    key: _InputsKey = (rows, citation_unit, currency, grouped)
    known = _built.get(key)
    if known is not None:
        return known
    built = _build_inputs(rows, citation_unit, currency, grouped=grouped)
    if len(_built) >= _BUILT_KEPT or sum(len(k[0]) for k in _built) + len(rows) > _ROWS_KEPT:
        _built.clear()
    if len(rows) <= _ROWS_KEPT:
        _built[key] = built
    return built


def _build_inputs(
    groups: Sequence[tuple[Any, ...]], citation_unit: Unit, currency: str | None, *, grouped: bool
) -> tuple[tuple[ContributionInput, ...], bool]:
    inputs: list[ContributionInput] = []
    skipped = False
    for cid, kind, unit, role, machine_id, machine_kind, row_currency, total in groups:
        if _why_not_counted(kind, unit, row_currency, citation_unit, currency) is not None:
            skipped = True
            continue
        inputs.append(
            ContributionInput(
                contributor_id=cid,
                kind=ContributionKind(kind),
                quantity=_quantity(unit, int(total)),
                role=role,
                machine_id=machine_id,
                machine_kind=machine_kind,
            )
        )
    if grouped:
        inputs.sort(key=lambda i: (i.contributor_id, i.kind, i.role or "", i.machine_id or 0))
    return tuple(inputs), skipped


def _excluded(
    db: Session, where: tuple[ColumnElement[bool], ...], citation_unit: Unit, currency: str | None
) -> list[Exclusion]:
    """The approved rows the engine cannot read, with why, in id order."""
    rows = db.execute(
        select(_C.c.id, _C.c.contributor_id, _C.c.kind, _C.c.unit, _C.c.currency)
        .where(*where)
        .order_by(_C.c.id)
    ).all()
    found: list[Exclusion] = []
    for row_id, contributor_id, kind, unit, row_currency in rows:
        why = _why_not_counted(kind, unit, row_currency, citation_unit, currency)
        if why is not None:
            found.append(Exclusion(row_id, contributor_id, kind, why))
    return found


def contributions_up_to(
    db: Session,
    product_id: int,
    at: datetime,
    *,
    citation_mode: CitationMode | None = None,
    currency: str | None = None,
    grouped: bool = False,
) -> list[ContributionInput]:
    """The product's approved contributions up to `at`, as the split engine takes them.

    Derived rows are synced first, in the caller's transaction (nothing is committed).
    """
    return counted_contributions(
        db, product_id, at, citation_mode=citation_mode, currency=currency, grouped=grouped
    ).inputs
