"""Tables of payouts: batches made from balances, and one item per contributor paid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class PayoutBatch(SQLModel, table=True):
    """A batch of payouts made from balances; paid once, then its ledger entries exist."""

    __tablename__ = "payout_batch"

    id: int | None = Field(default=None, primary_key=True)
    currency: str = Field(max_length=3)
    minimum_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=200)


class PayoutItem(SQLModel, table=True):
    """One contributor's payout in a batch."""

    __tablename__ = "payout_item"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="payout_batch.id", index=True)
    contributor_id: int = Field(foreign_key="contributor.id")
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str = Field(max_length=100)
