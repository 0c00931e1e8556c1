"""API keys: random secrets shown once, stored only as a SHA-256 hash, each with a role.

Keys are 256-bit random tokens, so a fast hash is enough (no password stretching
is needed against guessing); lookup is by a short non-secret prefix.

A key works while it is active and not past its optional expiry. Every request
reads the key's row from the database (there is no cache), so a key revoked on
one replica fails on every replica at its next request. The last-used time is
written at most once a minute per key, by one conditional UPDATE, so busy keys
do not turn every read into a write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, String, UniqueConstraint, or_, update
from sqlmodel import Field, Session, SQLModel, col, select

from app.db import UTCDateTime, utcnow
from app.errors import Conflict

KEY_PREFIX = "llk_"
_LOOKUP_LEN = 12
LAST_USED_EVERY = timedelta(minutes=1)


class Role(StrEnum):
    """What a key may do: admin and operator write, device posts events, viewer reads."""

    ADMIN = "admin"
    OPERATOR = "operator"
    DEVICE = "device"
    VIEWER = "viewer"


class ApiKey(SQLModel, table=True):
    """A stored key: its lookup prefix, the hash of the whole key, its role and its life."""

    __tablename__ = "api_key"
    __table_args__ = (UniqueConstraint("lookup"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(sa_column=Column(String(16), nullable=False))
    lookup: str = Field(max_length=32)
    key_hash: str = Field(max_length=64)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session, name: str, role: Role, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Make and store a new key; the plain key is returned here and never again."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        role=role.value,
        lookup=plain[:_LOOKUP_LEN],
        key_hash=_hash(plain),
        expires_at=expires_at,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, plain


def is_usable(row: ApiKey, now: datetime) -> bool:
    """Active and not expired."""
    return row.active and (row.expires_at is None or row.expires_at > now)


def find_key(session: Session, plain: str) -> ApiKey | None:
    """The usable key matching `plain`, compared in constant time; notes when it was used."""
    if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
        return None
    row = session.exec(
        select(ApiKey).where(ApiKey.lookup == plain[:_LOOKUP_LEN], ApiKey.active)
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(plain)):
        return None
    now = utcnow()
    if not is_usable(row, now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        _touch(session, row, now)
    return row


def _touch(session: Session, row: ApiKey, now: datetime) -> None:
    """Record the use, unless another request (or replica) did within the minute."""
    session.execute(
        update(ApiKey)
        .where(
            col(ApiKey.id) == row.id,
            or_(
                col(ApiKey.last_used_at).is_(None),
                col(ApiKey.last_used_at) <= now - LAST_USED_EVERY,
            ),
        )
        .values(last_used_at=now)
    )
    session.commit()
    row.last_used_at = now


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    """Every key, oldest first (revoked ones only when asked)."""
    query = select(ApiKey).order_by(col(ApiKey.id))
    if not include_revoked:
        query = query.where(ApiKey.active)
    return list(session.exec(query).all())


def _other_admins(session: Session, row: ApiKey) -> int:
    now = utcnow()
    others = session.exec(
        select(ApiKey).where(ApiKey.role == Role.ADMIN.value, ApiKey.active, ApiKey.id != row.id)
    ).all()
    return sum(1 for other in others if is_usable(other, now))


def revoke_key(session: Session, row: ApiKey, *, allow_last_admin: bool = False) -> ApiKey:
    """Revoke a key at once, for every replica; the last usable admin key is kept unless told."""
    if not row.active:
        return row
    if row.role == Role.ADMIN.value and not allow_last_admin and _other_admins(session, row) == 0:
        raise Conflict(
            "this is the last admin key: make another admin key before revoking it",
            {"key_id": row.id},
        )
    row.active = False
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def rotate_key(
    session: Session,
    row: ApiKey,
    *,
    keep_old_for: timedelta | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key with the same name and role; the old one is revoked now or expires soon."""
    if not row.active:
        raise Conflict("a revoked key cannot be rotated; create a new one", {"key_id": row.id})
    new_row, plain = create_key(session, row.name, Role(row.role), expires_at)
    if keep_old_for:
        row.expires_at = utcnow() + keep_old_for
        session.add(row)
        session.commit()
    else:
        revoke_key(session, row, allow_last_admin=True)
    session.refresh(row)
    return new_row, plain
