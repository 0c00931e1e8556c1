"""The FastAPI application factory: routes, error mapping, metrics, lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.api.errors import install_error_handlers
from app.api.middleware.body_limit import BodyLimitMiddleware, BodyLimits
from app.api.middleware.headers import SecurityHeadersMiddleware
from app.api.middleware.metrics import MetricsMiddleware
from app.api.middleware.rate_limit import FailureBuckets, RateLimitMiddleware
from app.api.openapi import install_openapi, operation_id
from app.api.routes import (
    access,
    activity,
    badges,
    contributions,
    contributors,
    downtime,
    equations,
    events,
    health,
    keys,
    ledger,
    machines,
    payouts,
    products,
    readers,
    sales,
    stats,
    valueflows,
)
from app.api.stream import ChangeHub
from app.api.webhooks import routes as webhooks
from app.checkpoint_publisher import CheckpointPublisher
from app.config import Settings, get_settings, unknown_variable_warnings
from app.db import get_engine
from app.ingest.service import IngestService
from app.ingest.status import BrokerStatus
from app.ingest.worker import WorkerConfig
from app.lab.sessions import ScanRules
from app.logging_setup import configure_logging
from app.readiness import DatabaseGate
from app.web import access as web_access
from app.web import routes as web
from app.web.assets import install_assets

log = logging.getLogger(__name__)


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """The ASGI layers, outermost last: metrics see every answer, limits come first."""
    limits = BodyLimits(
        rules=[("webhook", "/webhooks/", settings.max_body_webhook_bytes)],
        default=settings.max_body_api_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    buckets = FailureBuckets(settings.unauth_write_burst, settings.unauth_write_per_minute)
    app.add_middleware(RateLimitMiddleware, buckets=buckets)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)


def create_app(
    settings: Settings | None = None, worker_config: WorkerConfig | None = None
) -> FastAPI:
    """Build the service for `settings` (read from the environment when not given)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    for warning in unknown_variable_warnings():
        log.warning("%s", warning)

    hub = ChangeHub()
    engine = get_engine(settings.database_url)
    rules = ScanRules.from_settings(settings)
    broker_status = BrokerStatus()
    ingest = IngestService(
        settings, engine, broker_status, hub.publish, worker_config or WorkerConfig(rules=rules)
    )

    checkpoints = CheckpointPublisher(settings, engine)
    gate = DatabaseGate(settings.database_url, migrate_on_start=settings.migrate_on_start)
    started: list[bool] = []

    def start_ingest() -> None:
        ingest.start()
        checkpoints.start()
        started.append(True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        gate.open(start_ingest)
        try:
            yield
        finally:
            gate.close()
            if started:
                checkpoints.stop()
                ingest.stop()

    app = FastAPI(
        title="LabLedger",
        version="0.1.0",
        summary="Machine time, contributions and exact payouts for open-hardware labs.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.db_gate = gate
    app.state.broker_status = broker_status
    app.state.hub = hub
    app.state.ingest = ingest
    app.state.checkpoints = checkpoints

    for module in (
        contributors,
        badges,
        machines,
        readers,
        products,
        activity,
        events,
        ledger,
        sales,
        payouts,
        contributions,
        equations,
        valueflows,
        downtime,
        stats,
        access,
        keys,
    ):
        app.include_router(module.router)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    install_assets(app)
    app.include_router(web.router)
    app.include_router(web_access.router)
    install_error_handlers(app)
    install_openapi(app)
    install_middleware(app, settings)
    return app
