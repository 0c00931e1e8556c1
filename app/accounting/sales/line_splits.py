"""Splitting a sold line among its product's contributors, and reversing it on refund.

A line's split uses the product's equation in force at the sale time over the
contributions up to the sale time, the product's carried remainders (per
currency) and its capped buckets' progress; the shares are posted to the ledger
as payables. A refund reverses the line's splits in the same proportions.

`plan_split` is the one path from a product, an amount and a moment to a
split: a real sale's line and the preview both take it, so the preview shows
what a sale would do. Approved contributions it cannot count (money in another
currency, a citation in the other unit) are listed as excluded, with why, in
the split's snapshot and in the preview; a cap kept in another currency is
noted and counts as reached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from app.accounting.contributions.inputs import Exclusion, counted_contributions
from app.accounting.engine.snapshots import carry_from_json, split_from_json, split_to_json
from app.accounting.engine.split import Carry, SplitResult, compute_split, reverse_split
from app.accounting.equations.versions import EquationRecord, record_in_force
from app.accounting.ledger.bulk import insert_many
from app.accounting.ledger.postings import BOOKS_LOCKED_KEY, Posting, post_transaction
from app.accounting.sales.rows import insert_values
from app.accounting.sales.tables import CapProgress, Sale, SaleLine, Split, SplitShare
from app.db import utcnow
from app.lab.models import COMMONS_FUND_ID


class SaleKeys(Protocol):
    """What splitting reads of a sale: a stored `Sale`, or the sale path's own record of one."""

    @property
    def provider(self) -> str: ...
    @property
    def order_key(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def currency_exponent(self) -> int: ...


class SoldLine(Protocol):
    """What splitting reads of a sold line: a stored `SaleLine`, or the sale path's record."""

    @property
    def id(self) -> int | None: ...
    @property
    def position(self) -> int: ...
    @property
    def product_id(self) -> int | None: ...
    @property
    def net_minor(self) -> int: ...


def line_reference(sale: SaleKeys, line: SoldLine) -> str:
    """A line named by its shop's keys, not by row ids, so a replay names it the same."""
    return f"line:{sale.provider}:{line.position}:{sale.order_key}"[:300]


def sales_account(product_id: int | None) -> str:
    """Where a line's revenue sits: its product, or unallocated revenue."""
    return f"sales:product:{product_id}" if product_id is not None else "sales:unallocated"


def payable_account(contributor_id: int) -> str:
    """What the lab owes one contributor."""
    return f"payable:{contributor_id}"


#: The carry after the last sale split each process wrote or read, per database, product and
#: currency, under the split row that holds it (id, ledger transaction and creation time: a
#: row another database or process wrote never matches). Reading it back from the row means
#: parsing the whole snapshot, a large JSON document for a product with many contributors.
_CarryKey = tuple[str, int, str]
_CarryRow = tuple[int, str, datetime]
_carries: dict[_CarryKey, tuple[_CarryRow, Carry]] = {}
_CARRIES_KEPT = 4096


def _carry_key(db: Session, product_id: int, currency: str) -> _CarryKey:
    return (str(db.get_bind().engine.url), product_id, currency)


def _remember_carry(
    db: Session, product_id: int, currency: str, row: _CarryRow, carry: Carry
) -> None:
    """Keep the carry a sale split just stored (its row: id, transaction, creation time)."""
    if len(_carries) >= _CARRIES_KEPT:
        _carries.clear()
    _carries[_carry_key(db, product_id, currency)] = (row, carry)


#: Where a session keeps the carries its open transaction stored under the books' lock: no
#: other transaction can store a split before this one ends, so they are the newest.
_OWN_CARRIES_KEY = "labledger.own_carries"


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_own_carries(session: OrmSession, transaction: SessionTransaction) -> None:
    """A commit, rollback or savepoint's end: the next split reads its carry afresh."""
    if transaction.parent is None or transaction.nested:
        session.info.pop(_OWN_CARRIES_KEY, None)


def product_carry(db: Session, product_id: int, currency: str) -> Carry:
    """The remainders (per bucket and per recipient) the product's last split carried forward."""
    own = db.info.get(_OWN_CARRIES_KEY)
    if own is not None and (product_id, currency) in own:
        return own[(product_id, currency)]  # type: ignore[no-any-return]
    # On the connection: splits are written by plain INSERTs, there is nothing to autoflush.
    values = {"product_id": product_id, "currency": currency}
    last = db.connection().execute(_LAST_SALE_SPLIT, values).first()
    if last is None or last[0] is None:
        return Carry()
    key = _carry_key(db, product_id, currency)
    row = (int(last[0]), str(last[1]), last[2])
    known = _carries.get(key)
    if known is not None and known[0] == row:
        return known[1]
    snapshot = db.execute(select(col(Split.snapshot)).where(col(Split.id) == row[0])).scalar_one()
    carry = carry_from_json(json.loads(snapshot)["carry_after"])
    _carries[key] = (row, carry)
    return carry


_CAP_PAID = select(col(CapProgress.bucket), col(CapProgress.paid_minor)).where(
    col(CapProgress.product_id) == bindparam("product_id"),
    col(CapProgress.currency) == bindparam("currency"),
)
_LAST_SALE_SPLIT = (
    select(col(Split.id), col(Split.transaction_id), col(Split.created_at))
    .where(
        col(Split.product_id) == bindparam("product_id"),
        col(Split.currency) == bindparam("currency"),
        col(Split.kind) == "sale",
    )
    .order_by(col(Split.id).desc())
    .limit(1)
)


def cap_paid(db: Session, product_id: int, currency: str) -> dict[str, int]:
    """What each capped bucket of the product has paid so far in this currency."""
    rows = db.execute(_CAP_PAID, {"product_id": product_id, "currency": currency}).all()
    return {bucket: int(paid) for bucket, paid in rows}


def _cap_progress(
    db: Session, product_id: int, currency: str, record: EquationRecord
) -> dict[str, int]:
    """Cap progress for a split; a cap kept in another currency counts as reached.

    Caps are amounts of one currency and the ledger never converts, so a sale in
    another currency pays nothing towards a capped claim: its share flows on.
    Without a capped bucket there is nothing to read.
    """
    if all(bucket.cap_minor is None for bucket in record.equation.buckets):
        return {}
    if record.cap_currency is None or record.cap_currency == currency:
        return cap_paid(db, product_id, currency)
    return {b.name: b.cap_minor for b in record.equation.buckets if b.cap_minor is not None}


@dataclass(frozen=True, slots=True)
class PlannedSplit:
    """A split as the engine computed it, the contributions it left out, and notes on it."""

    result: SplitResult
    excluded: list[Exclusion]
    notes: list[str]


def plan_split(
    db: Session,
    product_id: int,
    record: EquationRecord,
    net_minor: int,
    currency: str,
    exponent: int,
    at: datetime,
    *,
    sync: bool = True,
) -> PlannedSplit:
    """Split `net_minor` of `currency` under `record` as of `at` (no writes but derived syncs)."""
    equation = record.equation
    counted = counted_contributions(
        db,
        product_id,
        at,
        citation_mode=equation.rates.citation_mode,
        currency=currency,
        sync=sync,
        grouped=True,
    )
    notes = []
    if record.cap_currency is not None and record.cap_currency != currency:
        notes.append(
            f"caps of version {equation.version} are kept in {record.cap_currency}; a sale in "
            f"{currency} pays nothing towards them, so the capped shares flow on"
        )
    result = compute_split(
        net_minor,
        exponent,
        equation,
        counted.inputs,
        COMMONS_FUND_ID,
        cap_paid_so_far=_cap_progress(db, product_id, currency, record),
        carry=product_carry(db, product_id, currency),
    )
    return PlannedSplit(result, counted.excluded, notes)


def _add_cap_payments(
    db: Session, product_id: int, currency: str, payments: dict[str, int]
) -> None:
    for bucket, amount in payments.items():
        if not amount:
            continue
        row = db.exec(
            select(CapProgress).where(
                CapProgress.product_id == product_id,
                CapProgress.currency == currency,
                CapProgress.bucket == bucket,
            )
        ).first()
        if row is None:
            row = CapProgress(product_id=product_id, currency=currency, bucket=bucket, paid_minor=0)
            db.add(row)
        row.paid_minor += amount


def _store(
    db: Session,
    line: SoldLine,
    product_id: int,
    currency: str,
    kind: str,
    result: SplitResult,
    transaction_id: str,
    excluded: list[Exclusion] | None = None,
    notes: list[str] | None = None,
) -> int:
    assert line.id is not None
    snapshot = split_to_json(result)
    if excluded is not None:
        snapshot["excluded"] = [exclusion.to_json() for exclusion in excluded]
    if notes:
        snapshot["notes"] = notes
    created_at = utcnow()
    # Plain values by one INSERT: nothing reads the row back as an object.
    split_id = insert_values(
        db,
        Split,
        {
            "sale_line_id": line.id,
            "product_id": product_id,
            "currency": currency,
            "kind": kind,
            "amount_minor": result.net_minor,
            "equation_version": result.equation_version,
            "snapshot": json.dumps(snapshot, sort_keys=True),
            "transaction_id": transaction_id,
            "created_at": created_at,
        },
    )
    assert split_id is not None
    if result.shares:
        # One driver executemany, not one ORM object per recipient (a product can have
        # thousands), and no per-value type processing (the values are plain ints).
        insert_many(
            db,
            SplitShare.__table__,  # type: ignore[attr-defined]
            ("split_id", "contributor_id", "amount_minor"),
            [(split_id, c, a) for c, a in sorted(result.shares.items())],
        )
    _add_cap_payments(db, product_id, currency, result.cap_payments)
    if kind == "sale":
        row = (split_id, transaction_id, created_at)
        _remember_carry(db, product_id, currency, row, result.carry_after)
        if db.info.get(BOOKS_LOCKED_KEY):
            db.info.setdefault(_OWN_CARRIES_KEY, {})[(product_id, currency)] = result.carry_after
    return split_id


def split_line(
    db: Session, sale: SaleKeys, line: SoldLine, at: datetime, record: EquationRecord | None = None
) -> int | None:
    """Divide a product line's net among recipients and post the payables; the split's id.

    `record` is the product's equation in force at `at`, when the caller knows it.
    """
    if line.product_id is None or line.net_minor <= 0:
        return None
    product_id = line.product_id
    if record is None:
        record = record_in_force(db, product_id, at)
    planned = plan_split(
        db, product_id, record, line.net_minor, sale.currency, sale.currency_exponent, at
    )
    result = planned.result
    postings = [Posting(sales_account(product_id), sale.currency, line.net_minor)]
    postings += [
        Posting(payable_account(c), sale.currency, -a)
        for c, a in sorted(result.shares.items())
        if a
    ]
    transaction_id = post_transaction(
        db,
        kind="split",
        reference=line_reference(sale, line),
        postings=postings,
        occurred_at=at,
    )
    return _store(
        db,
        line,
        product_id,
        sale.currency,
        "sale",
        result,
        transaction_id,
        planned.excluded,
        planned.notes,
    )


def reverse_line(
    db: Session, sale: Sale, line: SaleLine, amount_minor: int, at: datetime, reference: str
) -> int | None:
    """Give back `amount_minor` of a line's split, in its proportions; the reversal's id."""
    if amount_minor <= 0:
        return None
    original_row = db.exec(
        select(Split).where(Split.sale_line_id == line.id, Split.kind == "sale")
    ).first()
    if original_row is None or line.product_id is None:
        return None
    earlier = [
        split_from_json(json.loads(row.snapshot))
        for row in db.exec(
            select(Split)
            .where(Split.sale_line_id == line.id, Split.kind == "refund")
            .order_by(col(Split.id))
        ).all()
    ]
    result = reverse_split(
        split_from_json(json.loads(original_row.snapshot)), amount_minor, earlier
    )
    postings = [Posting(sales_account(line.product_id), sale.currency, -amount_minor)]
    postings += [
        Posting(payable_account(c), sale.currency, -a)
        for c, a in sorted(result.shares.items())
        if a
    ]
    transaction_id = post_transaction(
        db, kind="split_reversal", reference=reference, postings=postings, occurred_at=at
    )
    return _store(db, line, line.product_id, sale.currency, "refund", result, transaction_id)
