"""Browser sessions: an API key exchanged once for a session cookie.

The cookie holds a random token; only its SHA-256 hash is stored, with the key
it stands for (so revoking the key ends the session), its CSRF token and its
expiry. A session acts with its key's role.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, delete, select

from app.api.keys import ApiKey, is_usable
from app.db import UTCDateTime, utcnow

COOKIE_NAME = "labledger_session"


class WebSession(SQLModel, table=True):
    """A logged-in browser: the hash of its cookie, its key and its CSRF token."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    key_id: int = Field(foreign_key="api_key.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Session, key: ApiKey, lifetime_s: int) -> tuple[WebSession, str]:
    """Open a session for `key`; the cookie token is returned here and never stored."""
    assert key.id is not None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.exec(delete(WebSession).where(col(WebSession.expires_at) < now))
    row = WebSession(
        token_hash=_hash(token),
        key_id=key.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + timedelta(seconds=lifetime_s),
    )
    db.add(row)
    db.commit()
    return row, token


def find_session(db: Session, token: str | None) -> tuple[WebSession, ApiKey] | None:
    """The live session and active key behind a cookie token, or None."""
    if not token or len(token) > 200:
        return None
    row = db.exec(select(WebSession).where(WebSession.token_hash == _hash(token))).first()
    if row is None or row.expires_at <= utcnow():
        return None
    key = db.get(ApiKey, row.key_id)
    if key is None or not is_usable(key, utcnow()):
        return None
    return row, key


def csrf_matches(row: WebSession, sent: str | None) -> bool:
    """Whether a form's or header's CSRF token is this session's, compared in constant time."""
    return bool(sent) and hmac.compare_digest(row.csrf_token, sent or "")


def end_session(db: Session, token: str | None) -> None:
    """Forget the session behind a cookie token (logout)."""
    if token:
        db.exec(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))
        db.commit()
