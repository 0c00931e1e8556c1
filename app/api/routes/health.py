"""Liveness, readiness and metrics endpoints (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.db import database_reachable
from app.ingest.status import BrokerStatus

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers; the MQTT link is reported, not required."""
    database_ok = database_reachable(request.app.state.engine)
    broker: BrokerStatus = request.app.state.broker_status
    body = {
        "status": "ready" if database_ok else "unavailable",
        "database": "ok" if database_ok else "unreachable",
        "mqtt": {
            "state": broker.state.value,
            "since": broker.since.isoformat() if broker.since else None,
            "detail": broker.detail,
        },
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
