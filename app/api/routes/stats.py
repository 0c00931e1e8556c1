"""Aggregates for the dashboards: machine, contributor and product figures, the lab now, money.

Every table is JSON by default and CSV with `format=csv`, under the same filters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.accounting.figures.queries import (
    BalanceRow,
    CurrencyTotals,
    MoneySummary,
    ProductFigures,
    money_summary,
    product_figures,
)
from app.api.csv_out import csv_response, json_response
from app.api.deps import API_PREFIX, Reader, SessionDep
from app.errors import InvalidInput
from app.fields import MAX_ID
from app.lab.live import LabNow, lab_now
from app.lab.periods import Period
from app.lab.stats import ContributorHours, Filters, MachineHours, contributor_hours, machine_hours

router = APIRouter(prefix=API_PREFIX, tags=["dashboards"])
MachineFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only this machine's figures.")
]
ContributorFilter = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Only this contributor (as operator, provider or present)."),
]
ProductFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only time and sales tagged to this product.")
]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")]
MAX_RANGE = timedelta(days=3700)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filters(
    since: Annotated[datetime | None, Query(description="Start (default: 30 days ago).")] = None,
    until: Annotated[datetime | None, Query(description="End, exclusive (default: now).")] = None,
    by: Annotated[Period, Query(description="Bucket: day, week, month or year.")] = Period.DAY,
    machine_id: MachineFilter = None,
    contributor_id: ContributorFilter = None,
    product_id: ProductFilter = None,
    role: Annotated[
        str | None, Query(min_length=1, max_length=50, description="Only this role's time.")
    ] = None,
) -> Filters:
    """The shared filters of every aggregate: a range, a bucket size and what to narrow to."""
    end = _aware(until) if until else datetime.now(UTC)
    start = _aware(since) if since else end - timedelta(days=30)
    if start >= end:
        raise InvalidInput("since must be before until", {"field": "since"})
    if end - start > MAX_RANGE:
        raise InvalidInput("a range can span at most ten years", {"field": "since"})
    return Filters(start, end, by, machine_id, contributor_id, product_id, role)


FiltersDep = Annotated[Filters, Depends(filters)]


# With ?format=csv these answer the same rows as CSV.
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The rows."}
}


@router.get("/stats/machines", response_model=list[MachineHours], responses=CSV_TOO)
def machine_stats(db: SessionDep, _key: Reader, f: FiltersDep, format: Format = "json") -> Response:
    """Per machine and bucket: runs, busy/wall/available/idle seconds, utilisation, end reasons."""
    rows = machine_hours(db, f)
    if format == "csv":
        return csv_response(rows, MachineHours, "machines")
    return json_response(rows)


@router.get("/stats/contributors", response_model=list[ContributorHours], responses=CSV_TOO)
def contributor_stats(
    db: SessionDep, _key: Reader, f: FiltersDep, format: Format = "json"
) -> Response:
    """Per contributor and bucket: labour time, machine time operated, machine time provided."""
    rows = contributor_hours(db, f)
    if format == "csv":
        return csv_response(rows, ContributorHours, "contributors")
    return json_response(rows)


@router.get("/stats/products", response_model=list[ProductFigures], responses=CSV_TOO)
def product_stats(db: SessionDep, _key: Reader, f: FiltersDep, format: Format = "json") -> Response:
    """Per product and bucket: labour and machine time, and sales value per currency."""
    rows = product_figures(db, f)
    if format == "csv":
        return csv_response(rows, ProductFigures, "products")
    return json_response(rows)


@router.get("/now", response_model=LabNow)
def now(db: SessionDep, _key: Reader) -> LabNow:
    """Every machine's live state at once, who is in the lab, and recent unknown scans."""
    return lab_now(db)


@router.get("/money/balances", response_model=list[BalanceRow], responses=CSV_TOO)
def money_balances(db: SessionDep, _key: Reader, format: Format = "json") -> Any:
    """What the lab owes each contributor per currency, and what is on hold (Money page)."""
    rows = money_summary(db, verify=False).balances
    return csv_response(rows, BalanceRow, "balances") if format == "csv" else rows


@router.get("/money/totals", response_model=list[CurrencyTotals], responses=CSV_TOO)
def money_totals(db: SessionDep, _key: Reader, format: Format = "json") -> Any:
    """Sales per currency: gross, fees, refunded, disputed, unallocated (Money page)."""
    rows = money_summary(db, verify=False).totals
    return csv_response(rows, CurrencyTotals, "sales-totals") if format == "csv" else rows


@router.get("/money/summary", response_model=MoneySummary)
def money(db: SessionDep, _key: Reader) -> MoneySummary:
    """Sales totals, balances, payout batches, the ledger head and whether the chain verifies."""
    return money_summary(db)
