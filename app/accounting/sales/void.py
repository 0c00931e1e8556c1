"""Voiding a mistaken sale: one reversing ledger transaction, nothing deleted.

An admin voids a sale that should never have been recorded (an amount sent
in the wrong unit, a test order on the live shop). The void posts one
transaction (kind `void`, reference `void:<provider>:<order key>`) that
brings every account the sale moved back to where it was: what the shop owes,
the shop's fee, the product's (or unallocated) revenue, and each recipient's
payable share net of earlier refunds. The sale row keeps its amounts and
gains `voided_at`, `voided_by` and `void_reason`; its splits, lines and
deliveries stay as they were, so the history reads: sold, then voided.

Decisions:

- Idempotent: voiding a voided sale again changes nothing and answers the
  same sale.
- Refused (409) while a dispute holds the sale's shares: close the dispute first.
- Refused (409) when a recipient's payable balance in the sale's currency is
  smaller than the share the void would take back (it was paid out): a void
  never makes anyone owe the lab. Settle it outside LabLedger instead.
- The keys stay taken: later refunds or disputes for the order are recorded
  with the outcome `sale_voided`, and a redelivery of the sale is a
  duplicate. Record the corrected sale under a new order key.
- Cap progress is given back (the capped claim was not really paid by this
  sale); the rounding carry, under one minor unit per recipient, stays.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from app.accounting.ledger.locks import lock_books
from app.accounting.ledger.postings import Posting, account_balances, post_transaction
from app.accounting.money import format_minor
from app.accounting.sales.line_splits import payable_account, sales_account
from app.accounting.sales.tables import CapProgress, Sale, SaleLine, Split, SplitShare
from app.errors import Conflict, NotFound


def void_sale(db: Session, sale_id: int, reason: str, voided_by: str) -> Sale:
    """Void a sale (in the caller's transaction, under the books' lock); see the module doc."""
    lock_books(db)
    sale = db.exec(
        select(Sale).where(Sale.id == sale_id).execution_options(populate_existing=True)
    ).first()
    if sale is None:
        raise NotFound(f"sale {sale_id} not found")
    if sale.voided_at is not None:
        return sale
    if sale.held:
        raise Conflict(
            f"sale {sale_id} is held by an open dispute; void it once the dispute closes"
        )
    lines = db.exec(
        select(SaleLine)
        .where(SaleLine.sale_id == sale_id)
        .order_by(col(SaleLine.position))
        .execution_options(populate_existing=True)
    ).all()
    shares = _shares_to_take_back(db, sale_id)
    _refuse_if_paid_out(db, sale, shares)
    totals: Counter[str] = Counter()
    for line in lines:
        for account, amount in _line_reversal(db, sale, line).items():
            totals[account] += amount
    for contributor_id, amount in shares.items():
        totals[payable_account(contributor_id)] += amount
    postings = [
        Posting(account, sale.currency, amount)
        for account, amount in sorted(totals.items())
        if amount
    ]
    if postings:
        post_transaction(
            db,
            kind="void",
            reference=f"void:{sale.provider}:{sale.order_key}"[:300],
            postings=postings,
            memo=reason,
        )
    _give_back_cap_progress(db, sale_id, sale.currency)
    sale.voided_at = datetime.now(UTC)
    sale.voided_by = voided_by[:200]
    sale.void_reason = reason[:500]
    return sale


def _line_reversal(db: Session, sale: Sale, line: SaleLine) -> dict[str, int]:
    """Postings that undo what the line's sale, split and refunds left in shop, fee and revenue.

    With r refunded (of which `from_net` came off the net), the line left
    `net - r` owed by the shop, `fee + r - from_net` of fees, and in its
    revenue account `-fee` when it was split, else `-gross + from_net`.
    """
    refunded = line.refunded_minor
    from_net = min(refunded, max(line.net_minor, 0))
    split = db.exec(
        select(Split.id).where(Split.sale_line_id == line.id, Split.kind == "sale")
    ).first()
    revenue = -line.fee_minor if split is not None else -line.gross_minor + from_net
    return {
        f"shop:{sale.provider}": -(line.net_minor - refunded),
        f"fees:{sale.provider}": -(line.fee_minor + refunded - from_net),
        sales_account(line.product_id): -revenue,
    }


def _shares_to_take_back(db: Session, sale_id: int) -> dict[int, int]:
    """What each recipient still holds from the sale (its splits net of reversals)."""
    rows = db.exec(
        select(SplitShare.contributor_id, SplitShare.amount_minor)
        .join(Split, col(Split.id) == SplitShare.split_id)
        .join(SaleLine, col(SaleLine.id) == Split.sale_line_id)
        .where(SaleLine.sale_id == sale_id)
    ).all()
    totals: Counter[int] = Counter()
    for contributor_id, amount in rows:
        totals[contributor_id] += amount
    return {c: a for c, a in sorted(totals.items()) if a}


def _refuse_if_paid_out(db: Session, sale: Sale, shares: dict[int, int]) -> None:
    """Conflict if a recipient's balance no longer covers the share the void takes back."""
    owed = account_balances(db, "payable:")
    short = {
        contributor_id: amount
        for contributor_id, amount in shares.items()
        if -owed.get((payable_account(contributor_id), sale.currency), 0) < amount
    }
    if short:
        described = ", ".join(
            f"contributor {c} ({format_minor(a, sale.currency)} {sale.currency})"
            for c, a in short.items()
        )
        raise Conflict(
            f"sale {sale.id} cannot be voided: its shares were already paid out to {described}; "
            "a void never makes anyone owe the lab",
            {"contributors": sorted(short)},
        )


def _give_back_cap_progress(db: Session, sale_id: int, currency: str) -> None:
    """Undo what the sale's splits (net of their reversals) paid towards capped claims."""
    paid: Counter[tuple[int, str]] = Counter()
    rows = db.exec(
        select(Split)
        .join(SaleLine, col(SaleLine.id) == Split.sale_line_id)
        .where(SaleLine.sale_id == sale_id)
    ).all()
    for split in rows:
        for bucket, amount in json.loads(split.snapshot).get("cap_payments", {}).items():
            paid[(split.product_id, bucket)] += int(amount)
    for (product_id, bucket), amount in paid.items():
        if not amount:
            continue
        progress = db.exec(
            select(CapProgress).where(
                CapProgress.product_id == product_id,
                CapProgress.currency == currency,
                CapProgress.bucket == bucket,
            )
        ).first()
        if progress is not None:
            progress.paid_minor -= amount
