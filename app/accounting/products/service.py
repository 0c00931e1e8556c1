"""Rules for products and their SKUs, independent of HTTP."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounting.products.tables import (
    Product,
    ProductCreate,
    ProductPublic,
    ProductSku,
    ProductUpdate,
)
from app.crud import apply_update
from app.db import utcnow
from app.errors import Conflict, InvalidInput


def skus_of(session: Session, product_id: int) -> list[str]:
    """The SKUs of one product, in a stable order."""
    rows = session.exec(
        select(ProductSku.sku)
        .where(ProductSku.product_id == product_id)
        .order_by(col(ProductSku.sku))
    )
    return list(rows.all())


def to_public(session: Session, row: Product) -> ProductPublic:
    """A product with its SKUs, as the API shows it."""
    assert row.id is not None
    return ProductPublic(**row.model_dump(), skus=skus_of(session, row.id))


def _check_unique(
    session: Session, name: str | None, skus: list[str] | None, me: int | None
) -> None:
    if name is not None:
        same = session.exec(select(Product).where(Product.name == name)).first()
        if same is not None and same.id != me:
            raise Conflict(f"a product named {name!r} exists (product {same.id})")
    if skus:
        taken = session.exec(
            select(ProductSku).where(col(ProductSku.sku).in_(skus), ProductSku.product_id != me)
        ).first()
        if taken is not None:
            raise Conflict(
                f"SKU {taken.sku!r} already belongs to product {taken.product_id}",
                {"sku": taken.sku, "product_id": taken.product_id},
            )


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("a product with this name or SKU exists") from None


def create_product(session: Session, data: ProductCreate) -> Product:
    """Add a product under its SKUs."""
    _check_unique(session, data.name, data.skus, None)
    row = Product(name=data.name, description=data.description)
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add_all(ProductSku(product_id=row.id, sku=sku) for sku in data.skus)
    _commit(session)
    return row


def update_product(session: Session, row: Product, data: ProductUpdate) -> Product:
    """Rename a product or replace its SKU list (sales already matched keep their product)."""
    _check_unique(session, data.name, data.skus, row.id)
    skus = data.skus
    if "skus" in data.model_fields_set and skus is None:
        raise InvalidInput("skus cannot be null", {"field": "skus"})
    apply_update(row, data, exclude={"skus"})
    if skus is not None:
        for old in session.exec(select(ProductSku).where(ProductSku.product_id == row.id)).all():
            session.delete(old)
        session.flush()
        assert row.id is not None
        session.add_all(ProductSku(product_id=row.id, sku=sku) for sku in skus)
    _commit(session)
    return row


def deactivate_product(session: Session, row: Product) -> Product:
    """Retire a product; its history stays."""
    row.active = False
    row.updated_at = utcnow()
    session.commit()
    return row
