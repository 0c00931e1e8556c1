"""Liveness, readiness and metrics endpoints (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.db import database_reachable
from app.ingest.service import IngestService
from app.ingest.status import BrokerStatus
from app.lab.lab_metrics import lab_metrics_text
from app.readiness import DatabaseGate

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (answered on the event loop: never queued behind worker threads)."""
    return {"status": "ok"}


def _database(request: Request) -> tuple[str, str]:
    """The database's state and, when it is not usable, the sentence that says what to do."""
    gate: DatabaseGate = request.app.state.db_gate
    if not gate.usable():
        return gate.state, gate.detail
    if not database_reachable(request.app.state.engine):
        return "unreachable", "the database stopped answering; check LABLEDGER_DATABASE_URL"
    return "ok", ""


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and is migrated; the MQTT link is reported, not required."""
    database, detail = _database(request)
    broker: BrokerStatus = request.app.state.broker_status
    ingest: IngestService = request.app.state.ingest
    body = {
        "status": "ready" if database == "ok" else "unavailable",
        "database": database,
        "detail": detail,
        "mqtt": {
            "state": broker.state.value,
            "since": broker.since.isoformat() if broker.since else None,
            "detail": broker.detail,
            "broker_dropped": broker.broker_dropped,
            "warning": broker.warning(),
            "slots": ingest.slots_reading() if ingest.leases is not None else None,
        },
    }
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(request: Request) -> Response:
    """Prometheus text format: the process's series, then the lab's (machines, sessions, runs).

    The lab's series are left out while the database is not usable (see /readyz).
    """
    body = generate_latest()
    if _database(request)[0] == "ok":
        body += lab_metrics_text(request.app.state.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
