"""Alembic environment: migrates the caller's URL, else the one the project's settings name.

`labledger db upgrade` passes its URL in code (`app.db.alembic_config`); `alembic`
run by hand reads `LABLEDGER_DATABASE_URL` (or `.env`) like the service does.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import app.tables  # noqa: F401  (registers every table on the metadata)
from app.config import load_settings
from app.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    """The URL to migrate: the one configured in code, else the project's settings."""
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def run_migrations() -> None:
    """Run migrations online against the configured database (a SQLite file is created)."""
    engine = make_engine(_url(), create=True)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
