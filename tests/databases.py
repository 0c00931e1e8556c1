"""Throwaway databases for the suite: a SQLite file, or a fresh PostgreSQL database.

With LABLEDGER_DATABASE_URL pointing at PostgreSQL, the suite never touches that
database itself: it creates a new one beside it and drops it afterwards.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, make_url, text
from sqlmodel import Session


@contextmanager
def throwaway_database(configured_url: str | None, tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of an empty database, and remove it afterwards."""
    if not configured_url or configured_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_dir / 'labledger-test.db'}"
        return
    server = make_url(configured_url)
    name = f"labledger_test_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def allow_ledger_writes(connection: Connection | Session) -> None:
    """Lift the ledger's append-only guard for the rest of this transaction (tests only).

    PostgreSQL: the guard trigger lets a transaction that set `labledger.allow_purge` through.
    SQLite: the guard triggers are dropped here and come back with `restore_ledger_guard`.
    """
    if _dialect(connection) == "postgresql":
        connection.execute(text("SET LOCAL labledger.allow_purge = 'on'"))
    else:
        for name in _SQLITE_GUARDS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def restore_ledger_guard(connection: Connection | Session) -> None:
    """Put SQLite's guard triggers back (PostgreSQL's allowance ends with the transaction)."""
    if _dialect(connection) == "sqlite":
        guard = importlib.import_module("app.migrations.versions.0014_ledger_guard_sqlite")
        for trigger in guard.SQLITE_TRIGGERS:
            connection.execute(text(trigger))


_SQLITE_GUARDS = ("ledger_entry_no_update", "ledger_entry_no_delete")


def _dialect(connection: Connection | Session) -> str:
    """The database's dialect name, from a connection or a session."""
    if isinstance(connection, Connection):
        return connection.dialect.name
    return connection.get_bind().dialect.name
