"""Read-side figures of products and money for the dashboards (no writes).

Product hours come from the lab's hourly rollups; product value from sale
lines (by the sale's date) and the splits that allocated them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, func, literal, select
from sqlmodel import Session, col

from app.accounting.ledger.postings import chain_head, verify_chain
from app.accounting.money import format_minor
from app.accounting.payouts.service import balances
from app.accounting.payouts.tables import PayoutBatch, PayoutItem
from app.accounting.products.tables import Product
from app.accounting.sales.tables import Sale, SaleLine, Split
from app.lab.models import Contributor
from app.lab.periods import bucket_label
from app.lab.rollup_days import PD as _PD
from app.lab.rollup_months import PM as _PM
from app.lab.rollup_reads import day_span, in_range, rollup_sums
from app.lab.rollup_years import PY as _PY
from app.lab.rollups import RunHour, SessionHour
from app.lab.stats import Filters

_RH = RunHour.__table__  # type: ignore[attr-defined]
_SH = SessionHour.__table__  # type: ignore[attr-defined]


@dataclass
class ProductFigures:
    """One product in one bucket (money per currency: one row per currency sold in)."""

    period: str
    product_id: int
    product: str
    labour_s: float
    machine_s: float
    currency: str | None
    lines: int
    gross_minor: int
    net_minor: int
    refunded_minor: int
    allocated_minor: int


class BalanceRow(BaseModel):
    """What the lab owes one contributor in one currency."""

    contributor_id: int
    contributor: str
    currency: str
    owed_minor: int
    held_minor: int


class BatchRow(BaseModel):
    """A payout batch and its total."""

    id: int
    currency: str
    status: str
    items: int
    total_minor: int
    created_at: datetime
    paid_at: datetime | None


class CurrencyTotals(BaseModel):
    """Sales in one currency: gross, fees, refunds, held for disputes, unallocated."""

    currency: str
    sales: int
    gross_minor: int
    fees_minor: int
    refunded_minor: int
    held_sales: int
    unallocated_lines: int
    unallocated_minor: int


class MoneySummary(BaseModel):
    """The Money page: totals, balances, payout batches, ledger head and its check."""

    totals: list[CurrencyTotals]
    balances: list[BalanceRow]
    batches: list[BatchRow]
    ledger_entries: int
    ledger_head: str
    ledger_verifies: bool


def product_figures(db: Session, f: Filters) -> list[ProductFigures]:
    """Hours put into each product, and what its sales brought, per bucket."""
    dialect = db.get_bind().dialect.name
    table: dict[tuple[str, int, str | None], dict[str, Any]] = defaultdict(dict)
    hours: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    span = day_span(f)  # whole days from the daily rollup, the partial ends from the hourly
    label = bucket_label(dialect, _SH.c.hour, f.by)
    labour = select(label, _SH.c.product_id, func.sum(_SH.c.seconds), literal(0.0)).where(
        _SH.c.product_id.is_not(None), in_range(_SH.c.hour, f, span)
    )
    run_label = bucket_label(dialect, _RH.c.hour, f.by)
    machine = select(run_label, _RH.c.product_id, literal(0.0), func.sum(_RH.c.busy_s)).where(
        _RH.c.product_id.is_not(None), in_range(_RH.c.hour, f, span)
    )
    if f.product_id is not None:
        labour = labour.where(_SH.c.product_id == f.product_id)
        machine = machine.where(_RH.c.product_id == f.product_id)
    queries = [
        labour.group_by(label, _SH.c.product_id),
        machine.group_by(run_label, _RH.c.product_id),
    ]
    if span is not None:  # whole months and years from the coarser rollups, by month/year
        levels = {"day": _PD, "month": _PM, "year": _PY}
        measures = ["labour_s", "machine_s"]
        queries += rollup_sums(dialect, f, span, levels, "product_id", measures, f.product_id)
    for query in queries:
        for period, product_id, labour_s, machine_s in db.execute(query):
            sums = hours[(period, product_id)]
            sums["labour_s"] = sums.get("labour_s", 0.0) + float(labour_s)
            sums["machine_s"] = sums.get("machine_s", 0.0) + float(machine_s)
    sale_label = bucket_label(dialect, Sale.occurred_at, f.by)
    allocated = (
        select(col(Split.sale_line_id), func.sum(col(Split.amount_minor)).label("amount"))
        .group_by(col(Split.sale_line_id))
        .subquery()
    )
    value = (
        select(
            sale_label,
            col(SaleLine.product_id),
            col(Sale.currency),
            func.count(),
            func.sum(SaleLine.gross_minor),
            func.sum(SaleLine.net_minor),
            func.sum(SaleLine.refunded_minor),
            func.coalesce(func.sum(allocated.c.amount), 0),
        )
        .join(Sale, col(Sale.id) == SaleLine.sale_id)
        .outerjoin(allocated, allocated.c.sale_line_id == SaleLine.id)
        .where(
            col(SaleLine.product_id).is_not(None),
            col(Sale.occurred_at) >= f.since,
            col(Sale.occurred_at) < f.until,
            col(Sale.test).is_(False),
        )
        .group_by(sale_label, col(SaleLine.product_id), col(Sale.currency))
    )
    if f.product_id is not None:
        value = value.where(col(SaleLine.product_id) == f.product_id)
    for period, product_id, currency, lines, gross, net, refunded, alloc in db.execute(value):
        table[(period, product_id, currency)].update(
            lines=int(lines),
            gross_minor=int(gross),
            net_minor=int(net),
            refunded_minor=int(refunded),
            allocated_minor=int(alloc),
        )
    sold = {(period, product_id) for period, product_id, _currency in table}
    for period, product_id in hours.keys() - sold:  # time put in, nothing sold: one row
        table[(period, product_id, None)] = {}
    names = {
        int(pid): str(name) for pid, name in db.execute(select(col(Product.id), col(Product.name)))
    }
    zero = {"lines": 0, "gross_minor": 0, "net_minor": 0, "refunded_minor": 0, "allocated_minor": 0}
    return [
        ProductFigures(
            period=period,
            product_id=product_id,
            product=names.get(product_id, f"#{product_id}"),
            currency=currency,
            labour_s=hours[(period, product_id)].get("labour_s", 0.0),
            machine_s=hours[(period, product_id)].get("machine_s", 0.0),
            **{**zero, **values},
        )
        for (period, product_id, currency), values in sorted(
            table.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
        )
    ]


def money_summary(db: Session, verify: bool = True) -> MoneySummary:
    """Sales totals per currency, balances, payout batches and the ledger's head and check.

    `verify=False` skips walking the whole chain (`ledger_verifies` is then False).
    """
    totals = {
        currency: CurrencyTotals(
            currency=currency,
            sales=int(n),
            gross_minor=int(gross),
            fees_minor=int(fees),
            refunded_minor=int(refunded),
            held_sales=int(held or 0),
            unallocated_lines=0,
            unallocated_minor=0,
        )
        for currency, n, gross, fees, refunded, held in db.execute(
            select(
                col(Sale.currency),
                func.count(),
                func.sum(Sale.gross_minor),
                func.sum(Sale.fees_minor),
                func.sum(Sale.refunded_minor),
                func.sum(case((col(Sale.held), 1), else_=0)),
            )
            .where(col(Sale.test).is_(False))
            .group_by(Sale.currency)
        )
    }
    for currency, n, amount in db.execute(
        select(col(Sale.currency), func.count(), func.sum(col(SaleLine.net_minor)))
        .join(Sale, col(Sale.id) == SaleLine.sale_id)
        .where(col(SaleLine.allocated_at).is_(None), col(Sale.test).is_(False))
        .group_by(Sale.currency)
    ):
        if currency in totals:
            totals[currency].unallocated_lines = int(n)
            totals[currency].unallocated_minor = int(amount or 0)
    names = {
        int(cid): str(name)
        for cid, name in db.execute(select(col(Contributor.id), col(Contributor.name)))
    }
    owed = [
        BalanceRow(
            contributor_id=b.contributor_id,
            contributor=names.get(b.contributor_id, f"#{b.contributor_id}"),
            currency=b.currency,
            owed_minor=b.owed_minor,
            held_minor=b.held_minor,
        )
        for b in balances(db)
    ]
    batches = [
        BatchRow(
            id=batch.id,
            currency=batch.currency,
            status=batch.status,
            items=int(items),
            total_minor=int(total or 0),
            created_at=batch.created_at,
            paid_at=batch.paid_at,
        )
        for batch, items, total in db.execute(
            select(PayoutBatch, func.count(col(PayoutItem.id)), func.sum(PayoutItem.amount_minor))
            .outerjoin(PayoutItem, col(PayoutItem.batch_id) == PayoutBatch.id)
            .group_by(col(PayoutBatch.id))
            .order_by(col(PayoutBatch.id).desc())
            .limit(50)
        )
    ]
    head = chain_head(db)
    return MoneySummary(
        totals=sorted(totals.values(), key=lambda t: t.currency),
        balances=owed,
        batches=batches,
        ledger_entries=head.sequence,
        ledger_head=head.hash,
        ledger_verifies=verify and verify_chain(db).ok,
    )


def money_text(minor: int, currency: str) -> str:
    """An amount in the currency's own format (for pages and CSV)."""
    return format_minor(minor, currency)
