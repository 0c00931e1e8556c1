"""What every `labledger` command shares: settings, a usable database, one-line failures."""

from __future__ import annotations

from typing import NoReturn

import typer
from sqlalchemy import Engine

from app.config import Settings, SettingsError, load_settings, unknown_variable_warnings
from app.db_status import DatabaseUnusable, ensure_ready


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to standard error and exit."""
    typer.echo(f"labledger: {message}", err=True)
    raise typer.Exit(code)


def load() -> Settings:
    """The settings, or one line naming the bad variable; misspelled variables are warned about."""
    for warning in unknown_variable_warnings():
        typer.echo(f"labledger: warning: {warning}", err=True)
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def ready_engine(settings: Settings) -> Engine:
    """The engine of a database that exists, answers and is migrated, or one line saying why not."""
    try:
        return ensure_ready(settings.database_url)
    except DatabaseUnusable as problem:
        fail(problem.message)
