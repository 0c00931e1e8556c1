"""FastAPI dependencies: the database session, the caller's key and role checks, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from app.api.keys import ApiKey, Role, find_key
from app.api.web_sessions import COOKIE_NAME, csrf_matches, find_session
from app.db import session_scope
from app.errors import Forbidden, Unauthorized, Unavailable
from app.fields import MAX_ID
from app.readiness import DatabaseGate

API_PREFIX = "/api/v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

_bearer = HTTPBearer(auto_error=False, description="An API key made with `labledger keys create`.")


def get_engine_dep(request: Request) -> Engine:
    """The app's engine, or 503 saying what to run while the database is not usable."""
    gate: DatabaseGate = request.app.state.db_gate
    if not gate.usable():
        raise Unavailable(gate.detail, {"database": gate.state})
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine_dep)]) -> Iterator[Session]:
    """One database session per request."""
    yield from session_scope(engine)


SessionDep = Annotated[Session, Depends(get_session)]


def current_key(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The caller's key (a Bearer key, or a logged-in browser's session cookie), or 401.

    A browser session changes nothing without its CSRF token in the `X-CSRF-Token` header.
    """
    if credentials is None:
        found = find_session(session, request.cookies.get(COOKIE_NAME))
        if found is None:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        web, key = found
        if request.method not in SAFE_METHODS and not csrf_matches(
            web, request.headers.get(CSRF_HEADER)
        ):
            raise Forbidden(f"a browser session must send its CSRF token in {CSRF_HEADER}")
        return key
    found_key = find_key(session, credentials.credentials)
    if found_key is None:
        raise Unauthorized("the API key is not valid, has expired or has been revoked")
    return found_key


def require(*roles: Role) -> Callable[[ApiKey], ApiKey]:
    """A dependency that admits only keys with one of `roles` (403 otherwise)."""
    allowed = {role.value for role in roles}

    def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if key.role not in allowed:
            raise Forbidden(
                f"a key with role {key.role!r} cannot do this; it needs one of "
                f"{', '.join(sorted(allowed))}",
                {"role": key.role, "allowed": sorted(allowed)},
            )
        return key

    return check


Reader = Annotated[ApiKey, Depends(require(Role.ADMIN, Role.OPERATOR, Role.VIEWER))]
Writer = Annotated[ApiKey, Depends(require(Role.ADMIN, Role.OPERATOR))]
Device = Annotated[ApiKey, Depends(require(Role.DEVICE, Role.ADMIN))]
Admin = Annotated[ApiKey, Depends(require(Role.ADMIN))]

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[
    int, Query(ge=0, le=2**31 - 1, description="Rows to skip (slow deep in a list: use after).")
]
After = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Continue after this row: the previous page's next."),
]
AfterSequence = Annotated[
    int | None,
    Query(ge=1, le=2**63 - 1, description="Continue after this entry: the previous page's next."),
]
