"""REST for products and their SKUs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import col, select

from app.accounting.products import service as products
from app.accounting.products.tables import (
    Product,
    ProductCreate,
    ProductPublic,
    ProductSku,
    ProductUpdate,
)
from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID

router = APIRouter(prefix=f"{API_PREFIX}/products", tags=["products"])
ProductId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("", response_model=Page[ProductPublic])
def list_products(
    session: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
) -> Page[ProductPublic]:
    """Products, filtered by SKU or activity."""
    query = select(Product)
    if sku:
        query = query.where(
            col(Product.id).in_(select(ProductSku.product_id).where(ProductSku.sku == sku))
        )
    if active is not None:
        query = query.where(Product.active == active)
    found = page(session, Product, query, (SortKey(col(Product.id)),), limit, offset, after)
    rows, total = found.rows, found.total
    items = [products.to_public(session, row) for row in rows]
    return Page(items=items, next=found.next, total=total, limit=limit, offset=offset)


@router.post("", response_model=ProductPublic, status_code=201)
def create_product(session: SessionDep, _key: Writer, data: ProductCreate) -> ProductPublic:
    """Add a product with its SKUs."""
    return products.to_public(session, products.create_product(session, data))


@router.get("/{product_id}", response_model=ProductPublic)
def read_product(session: SessionDep, _key: Reader, product_id: ProductId) -> ProductPublic:
    """One product."""
    return products.to_public(session, get_or_404(session, Product, product_id))


@router.patch("/{product_id}", response_model=ProductPublic)
def update_product(
    session: SessionDep, _key: Writer, product_id: ProductId, data: ProductUpdate
) -> ProductPublic:
    """Rename a product or replace its SKUs."""
    row = products.update_product(session, get_or_404(session, Product, product_id), data)
    return products.to_public(session, row)


@router.post("/{product_id}/deactivate", response_model=ProductPublic)
def deactivate_product(session: SessionDep, _key: Writer, product_id: ProductId) -> ProductPublic:
    """Retire a product."""
    row = products.deactivate_product(session, get_or_404(session, Product, product_id))
    return products.to_public(session, row)
