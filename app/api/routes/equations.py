"""REST for products' value equations (added, never edited) and sale previews."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.accounting.equations import versions as value_equations
from app.accounting.equations.preview import Preview, preview_sale
from app.accounting.equations.tables import EquationCreate, EquationPublic
from app.accounting.products.tables import Product
from app.api.deps import API_PREFIX, Reader, SessionDep, Writer
from app.crud import get_or_404
from app.fields import MAX_ID

router = APIRouter(prefix=f"{API_PREFIX}/products", tags=["value equations"])
ProductId = Annotated[int, Path(ge=1, le=MAX_ID)]
Version = Annotated[int, Path(ge=0, le=MAX_ID, description="0 is the built-in default.")]
OptionalVersion = Annotated[int | None, Query(ge=0, le=MAX_ID)]


@router.post("/{product_id}/equations", response_model=EquationPublic, status_code=201)
def add_equation(
    db: SessionDep, key: Writer, product_id: ProductId, data: EquationCreate
) -> EquationPublic:
    """Add a new version of the product's equation (the last version plus one)."""
    get_or_404(db, Product, product_id)
    record = value_equations.add_version(db, product_id, data, f"key:{key.name}")
    return value_equations.to_public(product_id, record)


@router.get("/{product_id}/equations", response_model=list[EquationPublic])
def list_equations(db: SessionDep, _key: Reader, product_id: ProductId) -> list[EquationPublic]:
    """Every stored version of the product's equation, oldest first."""
    get_or_404(db, Product, product_id)
    return [
        value_equations.to_public(product_id, record)
        for record in value_equations.list_records(db, product_id)
    ]


@router.get("/{product_id}/equations/{version}", response_model=EquationPublic)
def read_equation(
    db: SessionDep, _key: Reader, product_id: ProductId, version: Version
) -> EquationPublic:
    """One version of the product's equation; version 0 is the built-in default."""
    get_or_404(db, Product, product_id)
    record = value_equations.record_version(db, product_id, version)
    return value_equations.to_public(product_id, record)


@router.get("/{product_id}/preview", response_model=Preview)
def preview(
    db: SessionDep,
    _key: Reader,
    product_id: ProductId,
    amount: Annotated[str, Query(max_length=40, description='Net sale amount, e.g. "25.00".')],
    currency: Annotated[str, Query(max_length=8, description="ISO 4217 code, e.g. EUR.")],
    version: OptionalVersion = None,
    compare: OptionalVersion = None,
) -> Preview:
    """Who would get what from a sale of `amount` now, and the difference another version makes."""
    get_or_404(db, Product, product_id)
    return preview_sale(db, product_id, amount, currency, version, compare)
