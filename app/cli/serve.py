"""`labledger serve`: the API and dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import fail, load
from app.db_status import DatabaseUnusable, check_location


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (LABLEDGER_HTTP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LABLEDGER_HTTP_PORT).")] = None,
) -> None:
    """Run the API and dashboard (with LABLEDGER_MIGRATE_ON_START=true, migrate first)."""
    import uvicorn

    from app.main import create_app

    settings = load()
    try:  # a wrong path or a missing driver will not fix itself: say so and stop
        check_location(settings.database_url, must_exist=False)
    except DatabaseUnusable as problem:
        fail(problem.message)
    uvicorn.run(
        create_app(settings),
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_config=None,
        proxy_headers=True,
    )
