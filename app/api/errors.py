"""The one place where errors become JSON: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from app.errors import LabLedgerError

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait when the database stopped answering mid-flight.
DATABASE_RETRY_AFTER_S = 5

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _labledger_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LabLedgerError)
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_S)} if exc.status == 503 else None
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field(tuple(err.get("loc", ()))), "message": err.get("msg", "invalid")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    return JSONResponse(
        error_body("validation_error", f"invalid request: {summary}", {"fields": problems}),
        status_code=422,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    details = getattr(exc, "details", None)
    return JSONResponse(
        error_body(code, str(exc.detail), details),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def database_outage(exc: BaseException) -> bool:
    """Whether a database error means the server is away (retry later), not a bug."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database went away during a request: 503 with Retry-After, so clients (and shops'
    webhook retries) come back; nothing was recorded, as the transaction never committed."""
    if not database_outage(exc):
        return await _unexpected(request, exc)
    log.warning(
        "database unavailable during a request: %s",
        type(getattr(exc, "orig", None) or exc).__name__,
        extra={"path": request.url.path},
    )
    return JSONResponse(
        error_body(
            "unavailable",
            "the database is not answering; retry later",
            {"database": "unreachable"},
        ),
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return JSONResponse(
        error_body("internal", "an unexpected error occurred; it has been logged"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the service can meet to the JSON error shape."""
    app.add_exception_handler(LabLedgerError, _labledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
