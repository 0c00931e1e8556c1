"""API keys: random secrets shown once, stored only as a SHA-256 hash, each with a role.

Keys are 256-bit random tokens, so a fast hash is enough (no password stretching
is needed against guessing); lookup is by a short non-secret prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from app.db import UTCDateTime, utcnow

KEY_PREFIX = "llk_"
_LOOKUP_LEN = 12


class Role(StrEnum):
    """What a key may do: admin and operator write, device posts events, viewer reads."""

    ADMIN = "admin"
    OPERATOR = "operator"
    DEVICE = "device"
    VIEWER = "viewer"


class ApiKey(SQLModel, table=True):
    """A stored key: its lookup prefix, the hash of the whole key, and its role."""

    __tablename__ = "api_key"
    __table_args__ = (UniqueConstraint("lookup"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(sa_column=Column(String(16), nullable=False))
    lookup: str = Field(max_length=32)
    key_hash: str = Field(max_length=64)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, role: Role) -> tuple[ApiKey, str]:
    """Make and store a new key; the plain key is returned here and never again."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role.value, lookup=plain[:_LOOKUP_LEN], key_hash=_hash(plain))
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, plain


def find_key(session: Session, plain: str) -> ApiKey | None:
    """The active key matching `plain`, compared in constant time."""
    if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
        return None
    row = session.exec(
        select(ApiKey).where(ApiKey.lookup == plain[:_LOOKUP_LEN], ApiKey.active)
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(plain)):
        return None
    return row
