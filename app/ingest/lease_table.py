"""The table of ingest leases: which replica holds which slot, and until when."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class IngestLease(SQLModel, table=True):
    """A named lease (`slot:<i>` or `replica:<holder>`), held until `expires_at`."""

    __tablename__ = "ingest_lease"

    name: str = Field(primary_key=True, max_length=100)
    holder: str | None = Field(default=None, max_length=100)
    expires_at: datetime = Field(sa_type=UTCDateTime)
