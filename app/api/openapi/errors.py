"""Which errors each operation can answer, documented with the project's error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

ERROR_REF = "#/components/schemas/Error"


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="One sentence a person can act on.")
    details: dict[str, Any] = Field(
        description="Structured detail: the bad fields of a validation error, ids in a conflict."
    )


class Error(BaseModel):
    """Every error response of LabLedger."""

    error: ErrorDetail


def _example(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


RESPONSES: dict[str, tuple[str, dict[str, Any]]] = {
    "400": (
        "The delivery is malformed (not the shop's format).",
        _example("payload_invalid", "lines[0].amount: must be an integer in minor units"),
    ),
    "401": (
        "No valid credential: a missing or revoked API key, or a bad webhook signature.",
        _example("unauthorized", "an API key is required: send 'Authorization: Bearer <key>'"),
    ),
    "403": (
        "The key's role does not allow this.",
        _example(
            "forbidden",
            "a key with role 'viewer' cannot do this; it needs one of admin, operator",
            {"role": "viewer", "allowed": ["admin", "operator"]},
        ),
    ),
    "404": ("No such thing.", _example("not_found", "machine 7 does not exist", {"id": 7})),
    "409": (
        "It clashes with what is recorded (a duplicate, or a state that forbids it).",
        _example("conflict", "a machine named 'X1C left' exists (machine 3)"),
    ),
    "413": (
        "The request body is larger than this route allows.",
        _example(
            "payload_too_large",
            "the request body is larger than 1048576 bytes allowed here",
            {"limit_bytes": 1048576},
        ),
    ),
    "422": (
        "The request is invalid; each bad field is listed with why.",
        _example(
            "validation_error",
            "invalid request: running_threshold_w: Input should be greater than 0",
            {
                "fields": [
                    {"field": "running_threshold_w", "message": "Input should be greater than 0"}
                ]
            },
        ),
    ),
    "503": (
        "The database is not usable yet (the message says what to run) or stopped answering "
        "during the request; retry after the seconds in the `Retry-After` header.",
        _example(
            "unavailable",
            "the database at sqlite:///./labledger.db has no LabLedger schema and needs "
            "0005: run `labledger db upgrade`",
            {"database": "not_migrated"},
        ),
    ),
}


def _applicable(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer."""
    codes = []
    has_input = bool(operation.get("parameters") or operation.get("requestBody"))
    webhook = path.startswith("/webhooks/")
    if webhook:
        codes += ["400", "401"]
    if operation.get("security"):
        codes += ["401", "403"]
    if "{" in path or path.startswith("/api/v1/events/"):
        codes.append("404")
    if path.startswith("/api/v1/") and method in ("post", "patch", "put"):
        codes.append("409")
    if operation.get("requestBody") or webhook:
        codes.append("413")
    if has_input:
        codes.append("422")
    if path.startswith(("/api/", "/webhooks/")):
        codes.append("503")
    return sorted(set(codes))


def document_errors(schema: dict[str, Any]) -> None:
    """Replace FastAPI's validation schema with the error shape on every operation it applies to."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    definitions = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(definitions.pop("$defs", {}))
    components["Error"] = definitions
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code in _applicable(path, method, operation):
                description, example = RESPONSES[code]
                responses[code] = {
                    "description": description,
                    "content": {
                        "application/json": {"schema": {"$ref": ERROR_REF}, "example": example}
                    },
                }
