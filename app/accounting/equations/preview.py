"""Who would get what from a sale of a product now, under one equation version or two.

The preview takes the very path a real sale's line takes (`plan_split`): the
product's approved contributions up to now, its stored carries and cap
progress, a cap kept in another currency counted as reached (noted), and the
contributions it cannot count listed as excluded with why. With a second version,
`difference` is that version's share minus the first one's, per recipient.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from fractions import Fraction

from sqlmodel import Session, SQLModel, col, select

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.engine.snapshots import fraction_to_json
from app.accounting.engine.split import compare_splits
from app.accounting.equations.versions import EquationRecord, fraction_text, record_in_force
from app.accounting.equations.versions import record_version as stored_version
from app.accounting.money import currency_exponent, format_minor, normalize_currency, to_minor
from app.accounting.sales.line_splits import PlannedSplit, plan_split
from app.db import utcnow
from app.errors import InvalidInput
from app.lab.models import Contributor

_POINTS_DECIMALS = 3


class RecipientShare(SQLModel):
    """What one recipient would get."""

    contributor_id: int
    display_name: str
    amount_minor: int
    amount: str


class PointsLine(SQLModel):
    """One contributor's points: exact ("n/d") and rounded for reading."""

    contributor_id: int
    display_name: str
    points: str
    points_rounded: str


class BucketLine(SQLModel):
    """What one bucket took and to whom it went."""

    name: str
    recipient_id: int | None
    amount_minor: int
    amount: str
    to_commons: bool
    shares: list[RecipientShare]


class ExcludedContribution(SQLModel):
    """An approved contribution the split cannot count, and why (as a real sale's snapshot says)."""

    contribution_id: int
    contributor_id: int
    display_name: str
    kind: str
    reason: str


class SplitPreview(SQLModel):
    """A split under one equation version; `left_out` are the ids of `excluded`."""

    version: int
    effective_from: datetime | None
    recipients: list[RecipientShare]
    points: list[PointsLine]
    buckets: list[BucketLine]
    left_out: list[int]
    excluded: list[ExcludedContribution]
    notes: list[str]


class Difference(SQLModel):
    """How much more (or less, negative) a recipient gets under the compared version."""

    contributor_id: int
    display_name: str
    difference_minor: int
    difference: str


class Preview(SQLModel):
    """The preview of a sale: the split, and optionally another version's and the difference."""

    product_id: int
    at: datetime
    currency: str
    amount_minor: int
    amount: str
    split: SplitPreview
    compare: SplitPreview | None = None
    difference: list[Difference] | None = None


def parse_amount(amount: str, currency: str) -> tuple[int, str]:
    """A sale amount and currency from query text, as minor units and an ISO code."""
    code = normalize_currency(currency)
    minor = to_minor(amount, code)
    if minor < 0:
        raise InvalidInput(
            "amount must not be negative: a sale brings money in", {"field": "amount"}
        )
    return minor, code


def _names(db: Session, ids: Iterable[int]) -> dict[int, str]:
    """Display names of contributors by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = db.exec(select(Contributor).where(col(Contributor.id).in_(wanted))).all()
    return {row.id: row.display_name for row in rows if row.id is not None}


def _split(
    db: Session, product_id: int, record: EquationRecord, minor: int, currency: str, at: datetime
) -> PlannedSplit:
    """Run the same path as a real sale's line (`plan_split`) for one equation version."""
    try:
        return plan_split(
            db, product_id, record, minor, currency, currency_exponent(currency), at, sync=False
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"version {record.equation.version} cannot split this sale: {exc}"
        ) from None


def _shares(shares: dict[int, int], names: dict[int, str], currency: str) -> list[RecipientShare]:
    """Shares by recipient, with names and formatted amounts."""
    return [
        RecipientShare(
            contributor_id=cid,
            display_name=names.get(cid, ""),
            amount_minor=amount,
            amount=format_minor(amount, currency),
        )
        for cid, amount in sorted(shares.items())
    ]


def _rounded(points: Fraction) -> str:
    """Points rounded for reading (the exact value is shown beside them)."""
    return fraction_text(Fraction(round(points * 10**_POINTS_DECIMALS), 10**_POINTS_DECIMALS))


def _view(
    planned: PlannedSplit,
    record: EquationRecord,
    names: dict[int, str],
    cur: str,
) -> SplitPreview:
    result = planned.result
    return SplitPreview(
        version=result.equation_version,
        effective_from=record.effective_from,
        recipients=_shares(result.shares, names, cur),
        points=[
            PointsLine(
                contributor_id=cid,
                display_name=names.get(cid, ""),
                points=fraction_to_json(points),
                points_rounded=_rounded(points),
            )
            for cid, points in sorted(result.points.items())
        ],
        buckets=[
            BucketLine(
                name=b.name,
                recipient_id=b.recipient_id,
                amount_minor=b.amount_minor,
                amount=format_minor(b.amount_minor, cur),
                to_commons=b.to_commons,
                shares=_shares(b.shares, names, cur),
            )
            for b in result.buckets
        ],
        left_out=[e.contribution_id for e in planned.excluded],
        excluded=[
            ExcludedContribution(
                contribution_id=e.contribution_id,
                contributor_id=e.contributor_id,
                display_name=names.get(e.contributor_id, ""),
                kind=e.kind,
                reason=e.reason,
            )
            for e in planned.excluded
        ],
        notes=planned.notes,
    )


def preview_sale(
    db: Session,
    product_id: int,
    amount: str,
    currency: str,
    version: int | None = None,
    compare: int | None = None,
) -> Preview:
    """Preview a sale of `amount` now, under `version` (default: in force) and maybe `compare`."""
    minor, code = parse_amount(amount, currency)
    sync_derived_contributions(db)
    at = utcnow()
    record = (
        record_in_force(db, product_id, at)
        if version is None
        else stored_version(db, product_id, version)
    )
    planned = _split(db, product_id, record, minor, code, at)
    other: tuple[PlannedSplit, EquationRecord] | None = None
    if compare is not None:
        other_record = stored_version(db, product_id, compare)
        other = (_split(db, product_id, other_record, minor, code, at), other_record)
    ids = set(planned.result.points) | set(planned.result.shares)
    ids |= {e.contributor_id for e in planned.excluded}
    if other is not None:
        ids |= set(other[0].result.points) | set(other[0].result.shares)
        ids |= {e.contributor_id for e in other[0].excluded}
    names = _names(db, ids)
    preview = Preview(
        product_id=product_id,
        at=at,
        currency=code,
        amount_minor=minor,
        amount=format_minor(minor, code),
        split=_view(planned, record, names, code),
    )
    if other is not None:
        preview.compare = _view(other[0], other[1], names, code)
        preview.difference = [
            Difference(
                contributor_id=cid,
                display_name=names.get(cid, ""),
                difference_minor=delta,
                difference=format_minor(delta, code),
            )
            for cid, delta in compare_splits(planned.result, other[0].result).items()
        ]
    return preview
