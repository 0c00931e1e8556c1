"""`labledger db`: apply migrations, show where the database is."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import fail, load, ready_engine
from app.db_status import DatabaseUnusable, code_heads, migrate, read_revisions, shown_url

db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply database migrations (to the newest by default); creates a SQLite file."""
    settings = load()
    try:
        migrate(settings.database_url, revision)
    except DatabaseUnusable as problem:
        fail(problem.message)
    typer.echo(f"database at {revision} ({shown_url(settings.database_url)})")


@db_cli.command("grant")
def db_grant(
    role: Annotated[str, typer.Argument(help="The PostgreSQL role the service connects as.")],
) -> None:
    """Give the service's role least privilege: the ledger append-only, no DDL (PostgreSQL)."""
    from app.db_roles import RoleError, grant_service_role

    settings = load()
    try:
        tables = grant_service_role(ready_engine(settings), role)
    except RoleError as exc:
        fail(str(exc), code=1)
    typer.echo(f"{role}: read and write on {len(tables) - 1} tables, ledger_entry append-only")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is the newest; exit 1 when it is not."""
    settings = load()
    try:
        current = read_revisions(settings.database_url)
    except DatabaseUnusable as problem:
        fail(problem.message)
    heads = code_heads()
    at = ", ".join(current) or "no schema"
    typer.echo(f"{shown_url(settings.database_url)}: {at} (newest {', '.join(heads)})")
    if current != heads:
        fail("not the newest revision: run `labledger db upgrade`", code=1)
