"""Sales, their lines (allocating unmatched ones), deliveries refused at the door."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field
from sqlmodel import SQLModel, col, select

from app.accounting.products.tables import Product
from app.accounting.sales.apply import allocate_line
from app.accounting.sales.tables import RejectedDelivery, Sale, SaleLine
from app.accounting.sales.void import void_sale
from app.api.deps import API_PREFIX, Admin, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID, RowId
from app.lab.models import Strict

router = APIRouter(prefix=API_PREFIX, tags=["sales"])
RowPath = Annotated[int, Path(ge=1, le=MAX_ID)]


class SaleLinePublic(SQLModel):
    """A sold line."""

    id: int
    sale_id: int
    position: int
    sku: str | None
    description: str
    product_id: int | None
    quantity: int
    gross_minor: int
    fee_minor: int
    net_minor: int
    refunded_minor: int
    allocated_at: datetime | None


class SalePublic(SQLModel):
    """A sale with its lines."""

    id: int
    provider: str
    order_key: str
    currency: str
    currency_exponent: int
    occurred_at: datetime
    gross_minor: int
    fees_minor: int
    refunded_minor: int
    held: bool
    reference: str
    test: bool
    voided_at: datetime | None
    voided_by: str | None
    void_reason: str | None
    lines: list[SaleLinePublic]


class RejectedDeliveryPublic(SQLModel):
    """A webhook refused before any work."""

    id: int
    provider: str
    code: str
    message: str
    body_sha256: str
    body_size: int
    received_at: datetime


class VoidRequest(Strict):
    """Why a mistaken sale is voided (kept with it and in the ledger memo)."""

    reason: Annotated[str, Field(min_length=3, max_length=500)]


class Allocation(Strict):
    """Give an unmatched line its product."""

    product_id: RowId


def _public(db: SessionDep, sale: Sale) -> SalePublic:
    return _publics(db, [sale])[0]


def _publics(db: SessionDep, sales: list[Sale]) -> list[SalePublic]:
    """Sales with their lines, the lines of all of them read in one query (not one per sale)."""
    ids = [sale.id for sale in sales]
    lines: dict[int, list[SaleLinePublic]] = {sale_id: [] for sale_id in ids if sale_id}
    if ids:
        found = db.exec(
            select(SaleLine)
            .where(col(SaleLine.sale_id).in_(ids))
            .order_by(col(SaleLine.sale_id), col(SaleLine.position))
        )
        for line in found:
            lines[line.sale_id].append(SaleLinePublic(**line.model_dump()))
    return [SalePublic(**sale.model_dump(), lines=lines[sale.id or 0]) for sale in sales]


@router.get("/sales", response_model=Page[SalePublic])
def list_sales(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    provider: Annotated[str | None, Query(max_length=32)] = None,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> Page[SalePublic]:
    """Sales, newest first."""
    query = select(Sale)
    if provider:
        query = query.where(Sale.provider == provider)
    if currency:
        query = query.where(Sale.currency == currency.upper())
    order = (SortKey(col(Sale.occurred_at), True), SortKey(col(Sale.id), True))
    found = page(db, Sale, query, order, limit, offset, after)
    items = _publics(db, found.rows)
    return Page(items=items, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/sales/{sale_id}", response_model=SalePublic)
def read_sale(db: SessionDep, _key: Reader, sale_id: RowPath) -> SalePublic:
    """One sale."""
    return _public(db, get_or_404(db, Sale, sale_id))


@router.post("/sales/{sale_id}/void", response_model=SalePublic)
def void(db: SessionDep, key: Admin, sale_id: RowPath, body: VoidRequest) -> SalePublic:
    """Void a mistaken sale: one reversing ledger transaction, nothing deleted (admins only).

    Idempotent; 409 while a dispute holds it or when its shares were paid out.
    """
    sale = void_sale(db, sale_id, body.reason.strip(), f"key:{key.name}")
    db.commit()
    return _public(db, sale)


@router.get("/sale-lines/unallocated", response_model=Page[SaleLinePublic])
def unallocated_lines(
    db: SessionDep, _key: Reader, limit: Limit = 50, offset: Offset = 0, after: After = None
) -> Page[SaleLine]:
    """Revenue no product claimed yet (unknown SKU): visible, waiting to be allocated."""
    query = select(SaleLine).where(col(SaleLine.product_id).is_(None))
    found = page(db, SaleLine, query, (SortKey(col(SaleLine.id)),), limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.post("/sale-lines/{line_id}/allocate", response_model=SaleLinePublic)
def allocate(db: SessionDep, _key: Writer, line_id: RowPath, body: Allocation) -> SaleLine:
    """Allocate an unmatched line to a product; it is split as of its sale."""
    get_or_404(db, Product, body.product_id)
    line = allocate_line(db, line_id, body.product_id)
    db.commit()
    return line


@router.get("/deliveries/rejected", response_model=Page[RejectedDeliveryPublic])
def rejected_deliveries(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    provider: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[RejectedDelivery]:
    """Webhooks refused for a bad signature or payload, newest first (no payloads kept)."""
    query = select(RejectedDelivery)
    if provider:
        query = query.where(RejectedDelivery.provider == provider)
    found = page(
        db,
        RejectedDelivery,
        query,
        (SortKey(col(RejectedDelivery.id), True),),
        limit,
        offset,
        after,
    )
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)
