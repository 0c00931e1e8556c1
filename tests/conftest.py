"""Fixtures: a migrated throwaway database, the app and its client, keys, and a broker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

import app.tables  # noqa: F401
from app.api.keys import Role, create_key
from app.config import Settings
from app.db import dispose_engines, get_engine, upgrade_database
from app.lab.models import COMMONS_FUND_ID
from app.main import create_app
from tests.broker import MosquittoBroker
from tests.databases import allow_ledger_writes, restore_ledger_guard, throwaway_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head by the real migrations, for the whole session."""
    configured = os.environ.get("LABLEDGER_DATABASE_URL")
    with throwaway_database(configured, tmp_path_factory.mktemp("db")) as url:
        upgrade_database(url)
        yield url
        dispose_engines()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The engine, with every table emptied (but the commons fund) after each test."""
    engine = get_engine(database_url)
    yield engine
    with engine.begin() as connection:
        allow_ledger_writes(connection)  # lets this purge past the ledger's guard
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name == "contributor":
                connection.execute(text(f"DELETE FROM contributor WHERE id != {COMMONS_FUND_ID}"))
            else:
                connection.execute(table.delete())
        restore_ledger_guard(connection)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A database session for arranging and checking data."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a test app: the throwaway database, no MQTT unless a test asks.

    Tests send many refused requests from one address on purpose, so the
    per-address limit is out of their way; tests/reliability tests it itself.
    """
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, mqtt_enabled=False, unauth_write_burst=100_000, _env_file=None
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """An HTTP client on the app, raising nothing: errors come back as responses."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def key_for(session: Session) -> Callable[[Role], dict[str, str]]:
    """Make a key with a role and return the headers that use it."""

    def make(role: Role) -> dict[str, str]:
        _row, plain = create_key(session, f"test {role.value}", role)
        return {"Authorization": f"Bearer {plain}"}

    return make


@pytest.fixture
def admin(key_for: Callable[[Role], dict[str, str]]) -> dict[str, str]:
    """Headers with an admin key."""
    return key_for(Role.ADMIN)


@pytest.fixture
def approver(key_for: Callable[[Role], dict[str, str]]) -> dict[str, str]:
    """Headers with a second admin key: approval needs a second person."""
    return key_for(Role.ADMIN)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A Mosquitto started for this test on a free port."""
    instance = MosquittoBroker(tmp_path / "mosquitto")
    instance.start()
    yield instance
    instance.stop()
