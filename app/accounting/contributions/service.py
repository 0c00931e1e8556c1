"""Contributions entered by hand, the decisions on them, and how they are shown.

A hand-entered contribution starts `pending` and counts only once approved.
Decisions, each recorded with who made it and when:

    pending  --approve-->  approved
    pending  --reject--->  rejected   (reason kept)
    pending  --exclude-->  excluded   (reason kept)
    approved --exclude-->  excluded   (derived ones too: e.g. already paid elsewhere)

The functions the split needs are re-exported here: `contributions_up_to`,
`sync_derived_contributions`, `equation_in_force`, `equation_version`.

Nothing else changes a status; a decision is made with a conditional UPDATE, so
two operators deciding at once cannot both win.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.inputs import contributions_up_to, counted_contributions
from app.accounting.contributions.schemas import (
    CitationEntry,
    ContributionEntry,
    ContributionPublic,
    LabourEntry,
    MoneyEntry,
    WorkEntry,
)
from app.accounting.contributions.tables import (
    BASIS_POINTS_PER_PERCENT,
    MILLIPOINTS_PER_POINT,
    MS_PER_HOUR,
    Contribution,
    ContributionSource,
    ContributionStatus,
    Unit,
)
from app.accounting.engine.equation import ContributionKind
from app.accounting.equations.versions import equation_in_force, equation_version
from app.accounting.money import format_minor, to_minor
from app.accounting.products.tables import Product
from app.crud import SortKey, get_or_404
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput
from app.lab.models import Contributor

__all__ = [
    "add_manual",
    "contributions_up_to",
    "counted_contributions",
    "decide",
    "display",
    "equation_in_force",
    "equation_version",
    "filtered",
    "sync_derived_contributions",
    "to_public",
]

_FROM: dict[ContributionStatus, frozenset[ContributionStatus]] = {
    ContributionStatus.APPROVED: frozenset({ContributionStatus.PENDING}),
    ContributionStatus.REJECTED: frozenset({ContributionStatus.PENDING}),
    ContributionStatus.EXCLUDED: frozenset(
        {ContributionStatus.PENDING, ContributionStatus.APPROVED}
    ),
}


def _scaled(text: str, factor: int, what: str) -> int:
    """An exact, positive integer from a decimal string times `factor`."""
    value = Decimal(text) * factor
    if value != value.to_integral_value():
        raise InvalidInput(f"{what} {text!r} has more decimals than can be kept exactly")
    if value <= 0:
        raise InvalidInput(f"{what} must be more than zero", {"field": what})
    return int(value)


def _measure(
    entry: LabourEntry | WorkEntry | MoneyEntry | CitationEntry,
) -> tuple[int, Unit, str | None]:
    """The exact quantity, its unit and currency of a hand-entered contribution."""
    if isinstance(entry, LabourEntry | WorkEntry):
        return _scaled(entry.hours, MS_PER_HOUR, "hours"), Unit.MS, None
    if isinstance(entry, MoneyEntry):
        minor = to_minor(entry.amount, entry.currency)
        if minor <= 0:
            raise InvalidInput("amount must be more than zero", {"field": "amount"})
        return minor, Unit.MINOR, entry.currency
    if entry.points is not None:
        return _scaled(entry.points, MILLIPOINTS_PER_POINT, "points"), Unit.MILLIPOINT, None
    assert entry.percent is not None
    return (
        _scaled(entry.percent, BASIS_POINTS_PER_PERCENT, "percent"),
        Unit.BASIS_POINT,
        None,
    )


def add_manual(
    db: Session, entry: ContributionEntry, created_by: str | None, key_id: int | None = None
) -> Contribution:
    """Record a hand-entered contribution, pending until a second person approves it.

    `key_id` is the API key that entered it: that key can never approve it.
    """
    contributor = get_or_404(db, Contributor, entry.contributor_id)
    if entry.product_id is not None:
        get_or_404(db, Product, entry.product_id)
    quantity, unit, currency = _measure(entry)
    role = None
    if isinstance(entry, LabourEntry):
        role = entry.role or contributor.role
    row = Contribution(
        contributor_id=entry.contributor_id,
        product_id=entry.product_id,
        kind=entry.kind,
        quantity=quantity,
        unit=unit.value,
        currency=currency,
        role=role,
        revision=entry.revision if isinstance(entry, CitationEntry) else None,
        source=ContributionSource.MANUAL.value,
        status=ContributionStatus.PENDING.value,
        note=entry.note,
        occurred_at=entry.occurred_at or utcnow(),
        created_by=created_by,
        created_by_key=key_id,
    )
    db.add(row)
    db.commit()
    return row


def decide(
    db: Session,
    contribution_id: int,
    to: ContributionStatus,
    decided_by: str,
    reason: str | None = None,
    key_id: int | None = None,
) -> Contribution:
    """Approve, reject or exclude a contribution; Conflict if its status does not allow it.

    Approval needs a second person: the key (`key_id`) that entered a
    contribution cannot approve it (Forbidden, 403); an admin or another
    operator must. Rejecting or excluding one's own entry is allowed.
    """
    row = get_or_404(db, Contribution, contribution_id)
    if to is ContributionStatus.APPROVED and key_id is not None and row.created_by_key == key_id:
        raise Forbidden(
            f"contribution {contribution_id} was entered with this key ({decided_by}); "
            "approval needs a second person: an admin or another operator must approve it",
            {"created_by": row.created_by},
        )
    allowed = _FROM[to]
    changed = db.execute(
        update(Contribution)
        .where(
            col(Contribution.id) == contribution_id,
            col(Contribution.status).in_([s.value for s in allowed]),
        )
        .values(status=to.value, reason=reason, decided_by=decided_by, decided_at=utcnow())
        .returning(col(Contribution.id))
    ).first()
    db.commit()
    db.refresh(row)
    if changed is None:
        raise Conflict(
            f"contribution {contribution_id} is {row.status}; only "
            f"{' or '.join(sorted(allowed))} contributions can be {to.value}",
            {"status": row.status},
        )
    return row


ORDER = (SortKey(col(Contribution.occurred_at), True), SortKey(col(Contribution.id), True))


def filtered(
    contributor_id: int | None = None,
    product_id: int | None = None,
    kind: ContributionKind | None = None,
    status: ContributionStatus | None = None,
    source: ContributionSource | None = None,
) -> SelectOfScalar[Contribution]:
    """Contributions matching the filters given (list them in ORDER: newest first)."""
    query = select(Contribution)
    if contributor_id is not None:
        query = query.where(Contribution.contributor_id == contributor_id)
    if product_id is not None:
        query = query.where(Contribution.product_id == product_id)
    if kind is not None:
        query = query.where(Contribution.kind == kind.value)
    if status is not None:
        query = query.where(Contribution.status == status.value)
    if source is not None:
        query = query.where(Contribution.source == source.value)
    return query


def display(row: Contribution) -> str:
    """A readable form of a contribution's quantity: "2:30:00 h", "12.34 EUR", "5 %"."""
    if row.unit == Unit.MS:
        seconds, ms = divmod(row.quantity, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{hours}:{minutes:02d}:{seconds:02d}"
        return f"{text}.{ms:03d} h" if ms else f"{text} h"
    if row.unit == Unit.MINOR and row.currency is not None:
        return f"{format_minor(row.quantity, row.currency)} {row.currency}"
    if row.unit == Unit.MILLIPOINT:
        whole, part = divmod(row.quantity, MILLIPOINTS_PER_POINT)
        decimals = f"{part:03d}".rstrip("0")
        return f"{whole}.{decimals} points" if decimals else f"{whole} points"
    if row.unit == Unit.BASIS_POINT:
        whole, part = divmod(row.quantity, BASIS_POINTS_PER_PERCENT)
        decimals = f"{part:02d}".rstrip("0")
        return f"{whole}.{decimals} %" if decimals else f"{whole} %"
    return f"{row.quantity} {row.unit}"


def to_public(row: Contribution) -> ContributionPublic:
    """A contribution as the API shows it."""
    return ContributionPublic(**row.model_dump(), display=display(row))
