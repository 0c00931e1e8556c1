"""One database engine per process, sessions for requests, and migrations.

SQLite runs in WAL mode with foreign keys on; PostgreSQL is used as it is.
The schema is only ever created by Alembic (`labledger db upgrade`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, event, make_url, text
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Explicit constraint names, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_engines: dict[str, Engine] = {}


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC; SQLite gets a naive UTC value."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _open_existing_sqlite(path: Path, mode: str = "rw") -> Callable[[], sqlite3.Connection]:
    """A connection factory that never creates the file (mode=rw): only migrations create it."""
    uri = f"{path.resolve().as_uri()}?mode={mode}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10)

    return connect


def make_engine(url: str, *, create: bool = False) -> Engine:
    """Build an engine with the project's connection settings.

    A SQLite file is created only when `create` is set (migrations); everything
    else opens an existing file, so a wrong path never leaves an empty database.
    """
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is None or create:
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        else:
            engine = create_engine(url, creator=_open_existing_sqlite(path))
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def read_only_engine(url: str) -> Engine:
    """An engine for looking without touching: SQLite read-only, with no pragmas (no WAL switch).

    The caller disposes of it.
    """
    path = sqlite_file(url)
    if path is None:
        return create_engine(url, poolclass=NullPool)
    return create_engine(url, creator=_open_existing_sqlite(path, "ro"), poolclass=NullPool)


def get_engine(url: str) -> Engine:
    """The process's engine for `url`, made once (it opens, never creates, a SQLite file)."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, shutdown)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def session_scope(engine: Engine) -> Iterator[Session]:
    """A session closed after use (FastAPI dependency body)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def database_reachable(engine: Engine) -> bool:
    """Whether a trivial query succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url` without any ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "heads") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(url), revision)
