"""Balances owed to contributors, and payout batches that settle them.

A balance is what the ledger's `payable:<contributor>` account owes (credit
balance); amounts on hold for a dispute sit in `held:<contributor>` and are
not payable. A batch takes every balance at or above a minimum (never more than
the balance); marking it paid posts the ledger entries, once.

Making and paying a batch both take the books' lock (`ledger.locks`) before
reading anything, so two service processes paying two batches that share a
contributor, or one batch twice, cannot both pass the balance check.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from app.accounting.ledger.locks import lock_books
from app.accounting.ledger.postings import Posting, account_balances, post_transaction
from app.accounting.money import format_minor, normalize_currency
from app.accounting.payouts.tables import PayoutBatch, PayoutItem
from app.accounting.sales.line_splits import payable_account
from app.errors import Conflict, InvalidInput, NotFound
from app.lab.models import COMMONS_FUND_ID, Contributor


@dataclass(frozen=True)
class Balance:
    """What the lab owes one contributor in one currency, and what is on hold."""

    contributor_id: int
    currency: str
    owed_minor: int
    held_minor: int


def _contributor_of(account: str) -> int | None:
    _prefix, _sep, rest = account.partition(":")
    return int(rest) if rest.isdigit() else None


def balances(db: Session) -> list[Balance]:
    """Every contributor's balance per currency, from the ledger."""
    owed = account_balances(db, "payable:")
    held = account_balances(db, "held:")
    keys: set[tuple[int, str]] = set()
    for account, currency in [*owed, *held]:
        contributor_id = _contributor_of(account)
        if contributor_id is not None:
            keys.add((contributor_id, currency))
    result = [
        Balance(
            contributor_id=c,
            currency=cur,
            owed_minor=-owed.get((f"payable:{c}", cur), 0),
            held_minor=-held.get((f"held:{c}", cur), 0),
        )
        for c, cur in keys
    ]
    return sorted(result, key=lambda b: (b.currency, b.contributor_id))


def create_batch(
    db: Session, currency: str, minimum_minor: int, created_by: str, include_commons: bool = False
) -> PayoutBatch:
    """A batch of every balance in `currency` at or above the minimum."""
    currency = normalize_currency(currency)
    if minimum_minor < 1:
        raise InvalidInput("minimum must be at least one minor unit", {"field": "minimum"})
    lock_books(db)
    due = [
        b
        for b in balances(db)
        if b.currency == currency
        and b.owed_minor >= minimum_minor
        and (include_commons or b.contributor_id != COMMONS_FUND_ID)
    ]
    if not due:
        minimum = format_minor(minimum_minor, currency)
        raise Conflict(f"no balance in {currency} reaches the minimum of {minimum}")
    batch = PayoutBatch(currency=currency, minimum_minor=minimum_minor, created_by=created_by[:200])
    db.add(batch)
    db.flush()
    assert batch.id is not None
    for balance in due:
        db.add(
            PayoutItem(
                batch_id=batch.id,
                contributor_id=balance.contributor_id,
                amount_minor=balance.owed_minor,
                reference=f"LL-{batch.id}-{balance.contributor_id}",
            )
        )
    return batch


def batch_items(db: Session, batch_id: int) -> list[PayoutItem]:
    """The items of a batch in contributor order."""
    return list(
        db.exec(
            select(PayoutItem)
            .where(PayoutItem.batch_id == batch_id)
            .order_by(col(PayoutItem.contributor_id))
        ).all()
    )


def mark_paid(db: Session, batch_id: int) -> PayoutBatch:
    """Post the batch's payments; refused if paid before or if a balance shrank below its item.

    The books' lock is taken before the batch and the balances are read.
    """
    lock_books(db)
    locked = db.exec(
        select(PayoutBatch)
        .where(PayoutBatch.id == batch_id)
        .execution_options(populate_existing=True)
    ).first()
    if locked is None:
        raise NotFound(f"payout batch {batch_id} not found")
    if locked.status == "paid":
        raise Conflict(f"payout batch {batch_id} was already paid at {locked.paid_at}")
    current = {(b.contributor_id, b.currency): b.owed_minor for b in balances(db)}
    items = batch_items(db, locked.id)  # type: ignore[arg-type]
    short = [
        i.contributor_id
        for i in items
        if current.get((i.contributor_id, locked.currency), 0) < i.amount_minor
    ]
    if short:
        raise Conflict(
            "balances changed since the batch was made (a refund?); make a new batch",
            {"contributors": short},
        )
    postings = [
        Posting(payable_account(i.contributor_id), locked.currency, i.amount_minor) for i in items
    ]
    postings.append(
        Posting(
            f"payouts:{locked.currency.lower()}",
            locked.currency,
            -sum(i.amount_minor for i in items),
        )
    )
    post_transaction(db, kind="payout", reference=f"payout:{locked.id}", postings=postings)
    locked.status = "paid"
    locked.paid_at = datetime.now(UTC)
    return locked


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def batch_csv(db: Session, batch: PayoutBatch) -> str:
    """The batch as CSV for the bank: name, payout details, amount, currency, reference."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "payout_details", "amount", "currency", "reference"])
    for item in batch_items(db, batch.id):  # type: ignore[arg-type]
        person = db.get(Contributor, item.contributor_id)
        writer.writerow(
            [
                _cell(person.name if person else item.contributor_id),
                _cell(person.payout_details if person else ""),
                format_minor(item.amount_minor, batch.currency),
                batch.currency,
                item.reference,
            ]
        )
    return out.getvalue()
