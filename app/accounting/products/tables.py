"""Tables and schemas of products, each sold under one or more SKUs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.fields import LongText, Name
from app.lab.models import Strict


def _unique(skus: list[str]) -> list[str]:
    """A product lists each SKU once."""
    if len(set(skus)) != len(skus):
        raise ValueError("SKUs must be unique")
    return skus


Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[!-~]+$")
]
SkuList = Annotated[list[Sku], AfterValidator(_unique)]


class Product(SQLModel, table=True):
    """Something the lab sells; contributions and sales are tagged to it."""

    __table_args__ = (UniqueConstraint("name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProductSku(SQLModel, table=True):
    """One SKU under which a product is sold; a SKU names one product only."""

    __tablename__ = "product_sku"
    __table_args__ = (UniqueConstraint("sku"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    sku: str = Field(max_length=64)


class ProductCreate(Strict):
    """A new product with at least one SKU."""

    name: Name
    description: LongText = ""
    skus: SkuList = Field(min_length=1, max_length=100)


class ProductUpdate(Strict):
    """Fields of a product that can change; `skus` replaces the whole list."""

    name: Name | None = None
    description: LongText | None = None
    skus: SkuList | None = Field(default=None, min_length=1, max_length=100)


class ProductPublic(SQLModel):
    """A product as the API shows it."""

    id: int
    name: str
    description: str
    skus: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
