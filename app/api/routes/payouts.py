"""Balances owed to contributors, and payout batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import Field
from sqlmodel import SQLModel, col, select

from app.accounting.money import format_minor, to_minor
from app.accounting.payouts.service import balances, batch_csv, batch_items, create_batch, mark_paid
from app.accounting.payouts.tables import PayoutBatch, PayoutItem
from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID
from app.lab.models import Contributor, Strict

router = APIRouter(prefix=API_PREFIX, tags=["payouts"])
RowPath = Annotated[int, Path(ge=1, le=MAX_ID)]


class BalancePublic(SQLModel):
    """What the lab owes one contributor in one currency."""

    contributor_id: int
    display_name: str
    currency: str
    owed_minor: int
    owed: str
    held_minor: int


class PayoutRequest(Strict):
    """Make a batch of every balance in a currency at or above a minimum."""

    currency: str = Field(min_length=3, max_length=3)
    minimum: str | None = Field(
        default=None,
        max_length=32,
        description="Decimal amount, e.g. 10.00; default one minor unit (0.01 EUR, 1 JPY)",
    )
    include_commons: bool = False


class PayoutItemPublic(SQLModel):
    """One payout."""

    contributor_id: int
    amount_minor: int
    reference: str


class PayoutBatchPublic(SQLModel):
    """A payout batch and its items."""

    id: int
    currency: str
    minimum_minor: int
    status: str
    items: list[PayoutItemPublic]


@router.get("/balances", response_model=list[BalancePublic])
def list_balances(
    db: SessionDep,
    _key: Reader,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> list[BalancePublic]:
    """Every contributor's balance per currency (netting refunds against sales)."""
    result = []
    for b in balances(db):
        if currency and b.currency != currency.upper():
            continue
        person = db.get(Contributor, b.contributor_id)
        result.append(
            BalancePublic(
                contributor_id=b.contributor_id,
                display_name=person.display_name if person else str(b.contributor_id),
                currency=b.currency,
                owed_minor=b.owed_minor,
                owed=format_minor(b.owed_minor, b.currency),
                held_minor=b.held_minor,
            )
        )
    return result


def _batch_public(db: SessionDep, batch: PayoutBatch) -> PayoutBatchPublic:
    assert batch.id is not None
    items = [PayoutItemPublic(**i.model_dump()) for i in batch_items(db, batch.id)]
    return PayoutBatchPublic(**batch.model_dump(), items=items)


def _batch_publics(db: SessionDep, batches: list[PayoutBatch]) -> list[PayoutBatchPublic]:
    """Batches with their items, the items of all of them read in one query (not one per batch)."""
    items: dict[int, list[PayoutItemPublic]] = {b.id: [] for b in batches if b.id is not None}
    if items:
        found = db.exec(
            select(PayoutItem)
            .where(col(PayoutItem.batch_id).in_(list(items)))
            .order_by(col(PayoutItem.batch_id), col(PayoutItem.contributor_id))
        )
        for item in found:
            items[item.batch_id].append(PayoutItemPublic(**item.model_dump()))
    return [PayoutBatchPublic(**b.model_dump(), items=items[b.id or 0]) for b in batches]


@router.post("/payouts", response_model=PayoutBatchPublic, status_code=201)
def make_batch(db: SessionDep, key: Writer, body: PayoutRequest) -> PayoutBatchPublic:
    """A batch of every balance at or above the minimum; never more than a balance."""
    # A fixed "0.01" default would refuse every currency without decimals (JPY, KRW...).
    minimum = 1 if body.minimum is None else to_minor(body.minimum, body.currency)
    batch = create_batch(db, body.currency, minimum, key.name, body.include_commons)
    db.commit()
    return _batch_public(db, batch)


@router.get("/payouts", response_model=Page[PayoutBatchPublic])
def list_batches(
    db: SessionDep, _key: Reader, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Page[PayoutBatchPublic]:
    """Payout batches, newest first."""
    order = (SortKey(col(PayoutBatch.id), True),)
    found = page(db, PayoutBatch, select(PayoutBatch), order, limit, offset, after)
    items = _batch_publics(db, found.rows)
    return Page(items=items, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/payouts/{batch_id}.csv", response_class=PlainTextResponse)
def batch_as_csv(db: SessionDep, _key: Reader, batch_id: RowPath) -> PlainTextResponse:
    """The batch as CSV: name, payout details, amount, currency, reference."""
    batch = get_or_404(db, PayoutBatch, batch_id)
    return PlainTextResponse(
        batch_csv(db, batch),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payout-{batch_id}.csv"'},
    )


@router.get("/payouts/{batch_id}", response_model=PayoutBatchPublic)
def read_batch(db: SessionDep, _key: Reader, batch_id: RowPath) -> PayoutBatchPublic:
    """One batch."""
    return _batch_public(db, get_or_404(db, PayoutBatch, batch_id))


@router.post("/payouts/{batch_id}/paid", response_model=PayoutBatchPublic)
def mark_batch_paid(db: SessionDep, _key: Writer, batch_id: RowPath) -> PayoutBatchPublic:
    """Record that the batch was paid: its ledger entries are posted, once."""
    batch = mark_paid(db, batch_id)
    db.commit()
    return _batch_public(db, batch)
