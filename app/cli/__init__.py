"""The `labledger` command: one module per command group, registered here.

Every failure a user can meet (a bad setting, a missing or un-migrated
database, a bad file) ends in one line on standard error naming the fix, and a
non-zero exit; never a traceback.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from app.cli.db import db_cli
from app.cli.demo import demo
from app.cli.inductions import inductions_cli
from app.cli.keys import keys_cli
from app.cli.ledger import ledger_cli
from app.cli.rollups import rollups_cli
from app.cli.roster import export_cli, import_cli
from app.cli.sales import import_sales
from app.cli.serve import serve

cli = typer.Typer(
    help="LabLedger: the operations and revenue ledger of an open-hardware lab.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(ledger_cli, name="ledger")
cli.add_typer(rollups_cli, name="rollups")
cli.add_typer(import_cli, name="import")
cli.add_typer(export_cli, name="export")
cli.add_typer(inductions_cli, name="inductions")
cli.command("import-sales")(import_sales)
cli.command("serve")(serve)
cli.command("demo")(demo)


def package_version() -> str:
    """The installed version of LabLedger."""
    try:
        return version("labledger")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"labledger {package_version()}")
        raise typer.Exit()


@cli.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """LabLedger: the operations and revenue ledger of an open-hardware lab."""


def main() -> None:
    """Console-script entry point: a database error is one line, not a traceback."""
    from app.config import load_settings
    from app.db_status import explain_connection_error

    try:
        sys.exit(cli())
    except DBAPIError as exc:
        url = load_settings().database_url
        typer.echo(f"labledger: {explain_connection_error(url, exc).message}", err=True)
        sys.exit(2)
