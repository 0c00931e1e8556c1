"""The project's exceptions, mapped to JSON responses in one place (`app.api.errors`).

LabLedgerError            500  internal
├── InvalidInput          422  invalid_input
├── NotFound              404  not_found
├── Conflict              409  conflict
├── Unauthorized          401  unauthorized
├── Forbidden             403  forbidden
└── Unavailable           503  unavailable
"""

from __future__ import annotations

from typing import Any, ClassVar


class LabLedgerError(Exception):
    """Base of every error the service raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(LabLedgerError):
    """The request is well-formed but makes no sense."""

    status = 422
    code = "invalid_input"


class NotFound(LabLedgerError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class Conflict(LabLedgerError):
    """The request clashes with what is recorded (a duplicate, a state that forbids it)."""

    status = 409
    code = "conflict"


class Unauthorized(LabLedgerError):
    """No valid API key."""

    status = 401
    code = "unauthorized"


class Forbidden(LabLedgerError):
    """The key's role does not allow this."""

    status = 403
    code = "forbidden"


class Unavailable(LabLedgerError):
    """The service cannot answer yet (its database is missing or not migrated)."""

    status = 503
    code = "unavailable"
