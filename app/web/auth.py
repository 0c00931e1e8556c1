"""Login for the pages: an API key exchanged for a session cookie, and the page user.

The cookie is HttpOnly and SameSite=Strict, and Secure when the request came
over TLS (directly or through a proxy that says so in X-Forwarded-Proto).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from app.api.keys import ApiKey, Role
from app.api.web_sessions import COOKIE_NAME, WebSession, find_session

WRITE_ROLES = frozenset({Role.ADMIN.value, Role.OPERATOR.value})
READ_ROLES = WRITE_ROLES | {Role.VIEWER.value}


@dataclass(frozen=True)
class PageUser:
    """Who is looking: their key's name and role, and the session's CSRF token."""

    name: str
    role: str
    csrf_token: str

    @property
    def can_write(self) -> bool:
        """Whether the role may change things (operator, admin)."""
        return self.role in WRITE_ROLES


def page_user(request: Request, db: Session) -> PageUser | None:
    """The logged-in person behind the request's cookie, if their key may read pages."""
    found = find_session(db, request.cookies.get(COOKIE_NAME))
    if found is None:
        return None
    web, key = found
    if key.role not in READ_ROLES:
        return None
    return PageUser(name=key.name, role=key.role, csrf_token=web.csrf_token)


def is_tls(request: Request) -> bool:
    """Whether the browser reached us over HTTPS."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(response: Response, request: Request, token: str, lifetime_s: int) -> None:
    """Give the browser its session cookie."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=lifetime_s,
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
        path="/",
    )


def same_origin(request: Request) -> bool:
    """Whether a form post came from one of our own pages (Origin, else Referer, matches)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    parts = urlsplit(source)
    return parts.netloc == request.url.netloc


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


__all__ = ["ApiKey", "PageUser", "WebSession", "page_user", "safe_next", "set_cookie"]
