"""Tables of sales: webhook deliveries (the dedupe record), sales, lines, splits, carries, caps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class WebhookDelivery(SQLModel, table=True):
    """One provider event, recorded once: its (provider, event id) is the idempotency key."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    order_key: str = Field(max_length=200, index=True)
    outcome: str = Field(max_length=32)
    sale_id: int | None = Field(default=None, foreign_key="sale.id")
    event: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RejectedDelivery(SQLModel, table=True):
    """A webhook refused before any work (bad signature, bad payload): for the audit view.

    It keeps no payload and no secret: only what was wrong, the body's size and hash.
    """

    __tablename__ = "rejected_delivery"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32, index=True)
    code: str = Field(max_length=64)
    message: str = Field(max_length=500)
    body_sha256: str = Field(max_length=64)
    body_size: int
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Sale(SQLModel, table=True):
    """One order of one shop; (provider, order key) is its business key."""

    __table_args__ = (
        UniqueConstraint("provider", "order_key"),
        Index("ix_sale_page", "occurred_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    order_key: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    # Digits of the minor unit the amounts were recorded in (ISO 4217 when recorded).
    currency_exponent: int
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    gross_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    fees_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunded_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    held: bool = Field(default=False)
    reference: str = Field(default="", max_length=500)
    test: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A mistaken sale voided by an admin: reversed in the ledger, never deleted.
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    voided_by: str | None = Field(default=None, max_length=200)
    void_reason: str | None = Field(default=None, max_length=500)


class SaleLine(SQLModel, table=True):
    """A sold line; without a product it is unallocated revenue, kept until allocated."""

    __tablename__ = "sale_line"
    __table_args__ = (
        # Unallocated lines (`product_id IS NULL`) in list order, without the allocated ones.
        Index(
            "ix_sale_line_unallocated_page",
            "id",
            sqlite_where=text("product_id IS NULL"),
            postgresql_where=text("product_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    sale_id: int = Field(foreign_key="sale.id", index=True)
    position: int
    sku: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=500)
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    quantity: int
    gross_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunded_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    allocated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Split(SQLModel, table=True):
    """The division of one line's net (or the reversal of part of it), with its snapshot."""

    __table_args__ = (Index("ix_split_product_currency", "product_id", "currency", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    sale_line_id: int = Field(foreign_key="sale_line.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    currency: str = Field(max_length=3)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    equation_version: int
    snapshot: str = Field(sa_column=Column(Text, nullable=False))
    transaction_id: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SplitShare(SQLModel, table=True):
    """What one recipient got from one split."""

    __tablename__ = "split_share"

    id: int | None = Field(default=None, primary_key=True)
    split_id: int = Field(foreign_key="split.id", index=True)
    contributor_id: int = Field(foreign_key="contributor.id", index=True)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))


class CapProgress(SQLModel, table=True):
    """How much a capped (debt-like) bucket of a product has paid so far, per currency."""

    __tablename__ = "cap_progress"
    __table_args__ = (UniqueConstraint("product_id", "currency", "bucket"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id")
    currency: str = Field(max_length=3)
    bucket: str = Field(max_length=100)
    paid_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ParkedRefund(SQLModel, table=True):
    """A refund that arrived before its sale; applied when the sale lands."""

    __tablename__ = "parked_refund"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    order_key: str = Field(max_length=200, index=True)
    event_id: str = Field(max_length=200)
    event: str = Field(sa_column=Column(Text, nullable=False))
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
