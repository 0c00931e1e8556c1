"""Throwaway databases for the suite: a SQLite file, or a fresh PostgreSQL database.

With LABLEDGER_DATABASE_URL pointing at PostgreSQL, the suite never touches that
database itself: it creates a new one beside it and drops it afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


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
