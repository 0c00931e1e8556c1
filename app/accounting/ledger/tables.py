"""The ledger's table: one row per posting, append-only, each row hash-chained to the one before."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

# Column sizes, shared by the table, the migration and the validation in `ledger`.
TRANSACTION_ID_LENGTH = 36
KIND_LENGTH = 40
REFERENCE_LENGTH = 300
ACCOUNT_LENGTH = 120
MEMO_LENGTH = 500
HASH_LENGTH = 64


class LedgerEntry(SQLModel, table=True):
    """One posting of a balanced transaction; never updated or deleted once written."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("hash"),
        Index("ix_ledger_entry_account_currency", "account", "currency"),
    )

    # The primary key is the gap-free position in the chain (1, 2, 3, ...), assigned
    # by `post_transaction` under the append lock, never by the database.
    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    transaction_id: str = Field(max_length=TRANSACTION_ID_LENGTH, index=True)
    kind: str = Field(max_length=KIND_LENGTH)
    reference: str = Field(max_length=REFERENCE_LENGTH, index=True)
    account: str = Field(max_length=ACCOUNT_LENGTH)
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    memo: str = Field(max_length=MEMO_LENGTH)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=HASH_LENGTH)
    hash: str = Field(max_length=HASH_LENGTH)


class LedgerEntryPublic(SQLModel):
    """A ledger entry as the API shows it."""

    sequence: int
    transaction_id: str
    kind: str
    reference: str
    account: str
    currency: str
    amount_minor: int
    memo: str
    occurred_at: datetime
    recorded_at: datetime
    prev_hash: str
    hash: str
