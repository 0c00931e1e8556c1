"""The schema comes from Alembic alone, up and down, on the database under test."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from app.db import alembic_config, get_engine, upgrade_database
from tests.databases import throwaway_database


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_downgrade_to_base_and_up_again(tmp_path):
    import os

    with throwaway_database(os.environ.get("LABLEDGER_DATABASE_URL"), tmp_path) as url:
        upgrade_database(url)
        command.downgrade(alembic_config(url), "base")
        engine = get_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_database(url)
        with engine.connect() as connection:
            fund = connection.execute(text("SELECT name, is_commons_fund FROM contributor")).all()
        assert [tuple(row) for row in fund] == [("Commons fund", True)]
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    upgrade_database(f"sqlite:///{tmp_path}/wal.db")
    engine = get_engine(f"sqlite:///{tmp_path}/wal.db")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_every_trigger_survives_the_later_migrations(engine):
    """A batch migration that rebuilds a table on SQLite would silently drop its triggers."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    with engine.connect() as connection:
        names = set(connection.execute(text(query)).scalars())
    if engine.dialect.name == "sqlite":
        wanted = {"lab_session_pending_insert", "lab_session_pending_update"}
        wanted |= {"machine_run_pending_insert", "machine_run_pending_update"}
        wanted |= {"ledger_entry_no_update", "ledger_entry_no_delete"}
    else:
        wanted = {"lab_session_pending", "machine_run_pending"}
        wanted |= {"ledger_entry_no_update_delete", "ledger_entry_no_truncate"}
    assert wanted <= names, wanted - names
