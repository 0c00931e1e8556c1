"""What the keys API accepts and shows: never a key's hash, its plain text only once."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field, field_validator
from sqlmodel import SQLModel

from app.api.keys import Role
from app.db import utcnow
from app.fields import Name
from app.lab.models import Strict

MAX_GRACE_S = 30 * 86400


def _future(value: datetime | None) -> datetime | None:
    if value is not None and value <= utcnow():
        raise ValueError("must be in the future")
    return value


class KeyPublic(SQLModel):
    """A key as admins see it: who holds it, what it may do, and its life so far."""

    id: int
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    active: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None


class KeyCreate(Strict):
    """A new key."""

    name: Name = Field(description="Who or what holds the key (1-200 characters).")
    role: Role = Field(description="What the key may do: admin, operator, device or viewer.")
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working, with a zone (default: never)."
    )

    _check_expiry = field_validator("expires_at")(_future)


class KeyRotate(Strict):
    """Rotation: the old key is revoked now, or keeps working for `keep_old_for_s` seconds."""

    keep_old_for_s: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_S,
        description="Seconds the old key keeps working (0: revoked now; at most 30 days).",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the new key stops working, with a zone (default: never)."
    )

    _check_expiry = field_validator("expires_at")(_future)


class KeyCreated(KeyPublic):
    """A key just made: `key` is shown this once and never again."""

    key: str
