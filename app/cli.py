"""The `labledger` command: run the service, migrate the database, make API keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from app.api.keys import Role, create_key
from app.cli_ledger import ledger_cli
from app.config import Settings, SettingsError, load_settings
from app.db import get_engine, upgrade_database

cli = typer.Typer(help="LabLedger: the operations and revenue ledger of an open-hardware lab.")
db_cli = typer.Typer(help="Database schema.")
keys_cli = typer.Typer(help="API keys.")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(ledger_cli, name="ledger")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"labledger: {exc}", err=True)
        raise typer.Exit(2) from None


@db_cli.command("grant")
def db_grant(
    role: Annotated[str, typer.Argument(help="The PostgreSQL role the service connects as.")],
) -> None:
    """Give the service's role least privilege: the ledger append-only, no DDL (PostgreSQL)."""
    from app.db_roles import RoleError, grant_service_role

    settings = _settings()
    try:
        tables = grant_service_role(get_engine(settings.database_url), role)
    except RoleError as exc:
        typer.echo(f"labledger: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{role}: read and write on {len(tables) - 1} tables, ledger_entry append-only")


@db_cli.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Apply database migrations (to the newest by default)."""
    settings = _settings()
    upgrade_database(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what holds the key.", min=1)],
) -> None:
    """Make an API key and print it; it is shown only this once."""
    settings = _settings()
    if not 1 <= len(name.strip()) <= 200:
        typer.echo("labledger: --name must be 1 to 200 characters", err=True)
        raise typer.Exit(2)
    with Session(get_engine(settings.database_url)) as session:
        row, plain = create_key(session, name.strip(), role)
    typer.echo(plain)
    typer.echo(f"key {row.id} ({role.value}) for {row.name!r}; store it now", err=True)


@cli.command("import-sales")
def import_sales(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV export.")
    ],
    provider: Annotated[
        str, typer.Option(help="Shop name recorded with the sales (dedupe key).")
    ] = "csv",
    currency: Annotated[
        str | None, typer.Option(help="Currency when the file has no column.")
    ] = None,
) -> None:
    """Import sales from a shop's CSV export (Tindie, Crowd Supply...); re-importing is harmless."""
    from app.accounting.sales.apply import apply_shop_event
    from app.accounting.sales.csv_import import parse_sales_csv
    from app.errors import LabLedgerError

    settings = _settings()
    try:
        events = parse_sales_csv(
            path.read_text(encoding="utf-8-sig"), provider=provider, default_currency=currency
        )
    except LabLedgerError as exc:
        typer.echo(f"labledger: {path}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    counts: dict[str, int] = {}
    with Session(get_engine(settings.database_url)) as session:
        for event in events:
            outcome = apply_shop_event(session, event)
            counts[outcome] = counts.get(outcome, 0) + 1
        session.commit()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"
    typer.echo(f"{len(events)} events from {path.name}: {summary}")


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (LABLEDGER_HTTP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LABLEDGER_HTTP_PORT).")] = None,
) -> None:
    """Run the API and dashboard."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_config=None,
        proxy_headers=True,
    )


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli())
