"""The OpenAPI document a client generator can use.

FastAPI's own schema is completed in one pass (`complete_schema`):

- every error an operation can answer is documented with the project's error
  shape `{"error": {"code", "message", "details"}}` (`errors`), in place of
  FastAPI's default validation schema;
- every request body has examples (`examples`), the value equations' among
  them the worked examples of docs/equations.md;
- every field a client fills in, and every parameter, has a description
  (`glossary`: one wording per field name, refined per schema where a name means
  different things);
- operation ids are the endpoint functions' names, fixed here where a name alone
  is vague (`operation_id`), so they stay stable as paths evolve.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.api.openapi.errors import document_errors
from app.api.openapi.examples import document_examples
from app.api.openapi.glossary import document_fields

# Endpoint names that would be vague as operation ids, and what they are called instead.
_RENAMED = {
    "export": "export_ledger",
    "verify": "verify_ledger",
    "balances": "ledger_balances",
    "read_head": "read_ledger_head",
    "list_entries": "list_ledger_entries",
    "allocate": "allocate_sale_line",
    "void": "void_sale",
    "stream": "stream_changes",
    "preview": "preview_sale",
    "close_session_route": "close_session",
    "make_batch": "make_payout_batch",
    "list_batches": "list_payout_batches",
    "read_batch": "read_payout_batch",
    "batch_as_csv": "read_payout_batch_csv",
    "mark_batch_paid": "mark_payout_batch_paid",
    "unallocated_lines": "list_unallocated_sale_lines",
    "rejected_deliveries": "list_rejected_deliveries",
}

TAGS: list[dict[str, Any]] = [
    {"name": "contributors", "description": "People (and the commons fund) who can earn."},
    {"name": "badges", "description": "Cards enrolled for contributors, in one canonical form."},
    {"name": "machines", "description": "Printers, lasers, CNCs and instruments, by adapter."},
    {"name": "readers", "description": "Badge readers at machines and at the door."},
    {"name": "products", "description": "What the lab sells, under its SKUs."},
    {"name": "sessions and runs", "description": "Who was at which machine, and machine time."},
    {"name": "events", "description": "Device events over HTTP; what ingest could not use."},
    {"name": "contributions", "description": "Labour, machine time, money, citations."},
    {"name": "value equations", "description": "How a product's sales are split; previews."},
    {"name": "sales", "description": "Sales from shops, their lines, refused deliveries."},
    {"name": "payouts", "description": "Balances owed and payout batches."},
    {"name": "ledger", "description": "The append-only, hash-chained double-entry ledger."},
    {"name": "export", "description": "The lab's economic events as Valueflows JSON-LD."},
    {"name": "webhooks", "description": "Signed deliveries from shops (see docs/webhooks.md)."},
    {
        "name": "access",
        "description": "Inductions, trainers, machine groups, denied scans, interlock.",
    },
    {"name": "keys", "description": "API keys (admins only): list, create, revoke, rotate."},
    {"name": "health", "description": "Liveness, readiness and metrics."},
    {"name": "live", "description": "Server-sent events of what changes."},
    {"name": "dashboards", "description": "Aggregates, the lab now and money figures; CSV."},
]


def operation_id(route: APIRoute) -> str:
    """The operation id of a route: its endpoint's name, made specific where it is vague."""
    return _RENAMED.get(route.name, route.name)


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Add errors, examples and descriptions to FastAPI's schema (in place), and return it."""
    document_errors(schema)
    document_examples(schema)
    document_fields(schema)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the completed schema at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_schema(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                    tags=TAGS,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
