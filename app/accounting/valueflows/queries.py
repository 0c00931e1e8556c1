"""The rows behind the Valueflows export, each loaded in one query.

Every loader reads only what the export shows: ids, amounts, times and public
names, never emails or payout details. `since`/`until` keep rows whose event
time (contributions: when they occurred; sales: when sold; claims: when made;
payouts: when paid) lies in `since <= t < until`. How the rows become nodes is
`app.accounting.valueflows.export`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.accounting.contributions.tables import (
    Contribution,
    ContributionSource,
    ContributionStatus,
)
from app.accounting.payouts.tables import PayoutBatch, PayoutItem
from app.accounting.products.tables import Product
from app.accounting.sales.tables import (
    Sale,
    SaleLine,
    Split,
    SplitShare,
)
from app.lab.activity import LabSession, MachineRun
from app.lab.models import Contributor, Machine

__all__ = [
    "claim_rows",
    "contribution_rows",
    "contributor_rows",
    "machine_rows",
    "payout_rows",
    "product_rows",
    "sale_line_rows",
    "settled_claims",
]


def _window(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    """Conditions keeping `column` in [since, until)."""
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def contribution_rows(
    db: Session, since: datetime | None, until: datetime | None
) -> Sequence[Row[Any]]:
    """Approved contributions with the times of the session or run they came from."""
    c = Contribution
    query = (
        select(
            col(c.id),
            col(c.contributor_id),
            col(c.product_id),
            col(c.kind),
            col(c.quantity),
            col(c.unit),
            col(c.currency),
            col(c.machine_id),
            col(c.revision),
            col(c.occurred_at),
            col(LabSession.opened_at).label("session_start"),
            col(LabSession.closed_at).label("session_end"),
            col(MachineRun.started_at).label("run_start"),
            col(MachineRun.ended_at).label("run_end"),
        )
        .outerjoin(
            LabSession,
            and_(col(c.source) == ContributionSource.SESSION, col(c.source_id) == LabSession.id),
        )
        .outerjoin(
            MachineRun,
            and_(col(c.source) == ContributionSource.RUN, col(c.source_id) == MachineRun.id),
        )
        .where(
            col(c.status) == ContributionStatus.APPROVED, *_window(col(c.occurred_at), since, until)
        )
        .order_by(col(c.occurred_at), col(c.id))
    )
    return db.execute(query).all()


def sale_line_rows(
    db: Session, since: datetime | None, until: datetime | None
) -> Sequence[Row[Any]]:
    """Sold lines with their sale's currency and time."""
    query = (
        select(
            col(SaleLine.id),
            col(SaleLine.sale_id),
            col(SaleLine.product_id),
            col(SaleLine.gross_minor),
            col(Sale.currency),
            col(Sale.occurred_at),
        )
        .join(Sale, col(Sale.id) == SaleLine.sale_id)
        .where(*_window(col(Sale.occurred_at), since, until))
        .order_by(col(Sale.occurred_at), col(SaleLine.id))
    )
    return db.execute(query).all()


def claim_rows(db: Session, since: datetime | None, until: datetime | None) -> Sequence[Row[Any]]:
    """Non-zero split shares with their split's currency, product, line and time."""
    query = (
        select(
            col(SplitShare.id),
            col(SplitShare.contributor_id),
            col(SplitShare.amount_minor),
            col(Split.currency),
            col(Split.product_id),
            col(Split.sale_line_id),
            col(Split.kind),
            col(Split.created_at),
        )
        .join(Split, col(Split.id) == SplitShare.split_id)
        .where(col(SplitShare.amount_minor) != 0, *_window(col(Split.created_at), since, until))
        .order_by(col(Split.created_at), col(SplitShare.id))
    )
    return db.execute(query).all()


def payout_rows(db: Session, since: datetime | None, until: datetime | None) -> Sequence[Row[Any]]:
    """Items of paid payout batches with the batch's currency and payment time."""
    query = (
        select(
            col(PayoutItem.id),
            col(PayoutItem.contributor_id),
            col(PayoutItem.amount_minor),
            col(PayoutBatch.currency),
            col(PayoutBatch.paid_at),
        )
        .join(PayoutBatch, col(PayoutBatch.id) == PayoutItem.batch_id)
        .where(col(PayoutBatch.status) == "paid", *_window(col(PayoutBatch.paid_at), since, until))
        .order_by(col(PayoutBatch.paid_at), col(PayoutItem.id))
    )
    return db.execute(query).all()


def settled_claims(db: Session, item_ids: Iterable[int]) -> dict[int, list[int]]:
    """For each payout item, the positive claims it settles.

    Those are the contributor's positive split shares in the batch's currency
    made up to its payment and after their previous paid payout in that
    currency: a documented simplification, since a payout is not tied to
    particular claims.
    """
    ids = list(item_ids)
    if not ids:
        return {}
    earlier_item = aliased(PayoutItem)
    earlier_batch = aliased(PayoutBatch)
    paid_before = exists().where(
        col(earlier_item.batch_id) == earlier_batch.id,
        col(earlier_batch.status) == "paid",
        col(earlier_item.contributor_id) == PayoutItem.contributor_id,
        col(earlier_batch.currency) == PayoutBatch.currency,
        _earlier(earlier_batch),
        col(Split.created_at) <= earlier_batch.paid_at,
    )
    query = (
        select(col(PayoutItem.id), col(SplitShare.id))
        .join(PayoutBatch, col(PayoutBatch.id) == PayoutItem.batch_id)
        .join(SplitShare, col(SplitShare.contributor_id) == PayoutItem.contributor_id)
        .join(Split, col(Split.id) == SplitShare.split_id)
        .where(
            col(PayoutItem.id).in_(ids),
            col(SplitShare.amount_minor) > 0,
            col(Split.currency) == PayoutBatch.currency,
            col(Split.created_at) <= PayoutBatch.paid_at,
            ~paid_before,
        )
        .order_by(col(PayoutItem.id), col(SplitShare.id))
    )
    settles: dict[int, list[int]] = defaultdict(list)
    for item_id, share_id in db.execute(query).all():
        settles[item_id].append(share_id)
    return settles


def _earlier(batch: Any) -> ColumnElement[bool]:
    """`batch` was paid before the outer query's batch (ties broken by id)."""
    return or_(
        batch.paid_at < PayoutBatch.paid_at,
        and_(batch.paid_at == PayoutBatch.paid_at, batch.id < PayoutBatch.id),
    )


def contributor_rows(db: Session, ids: set[int]) -> Sequence[Row[Any]]:
    """The contributors with these ids: public display name and commons-fund flag only."""
    if not ids:
        return []
    query = (
        select(col(Contributor.id), col(Contributor.display_name), col(Contributor.is_commons_fund))
        .where(col(Contributor.id).in_(sorted(ids)))
        .order_by(col(Contributor.id))
    )
    return db.execute(query).all()


def machine_rows(db: Session, ids: set[int]) -> Sequence[Row[Any]]:
    """The machines with these ids, with their provider."""
    if not ids:
        return []
    query = (
        select(col(Machine.id), col(Machine.name), col(Machine.provider_id))
        .where(col(Machine.id).in_(sorted(ids)))
        .order_by(col(Machine.id))
    )
    return db.execute(query).all()


def product_rows(db: Session, ids: set[int]) -> Sequence[Row[Any]]:
    """The products with these ids, with their name."""
    if not ids:
        return []
    query = (
        select(col(Product.id), col(Product.name))
        .where(col(Product.id).in_(sorted(ids)))
        .order_by(col(Product.id))
    )
    return db.execute(query).all()
