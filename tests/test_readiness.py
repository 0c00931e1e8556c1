"""The service on a database it cannot use yet: not ready, saying what to run, writing nothing;
and with LABLEDGER_MIGRATE_ON_START, migrating itself."""

from __future__ import annotations

import logging
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from app.config import Settings
from app.db import dispose_engines, upgrade_database
from app.main import create_app
from tests.cli.support import snapshot


def _settings(url: str, **values: object) -> Settings:
    return Settings(database_url=url, mqtt_enabled=False, _env_file=None, **values)  # type: ignore[call-arg]


def _unmigrated(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/lab.db"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    engine.dispose()
    return url


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def warnings_logged():
    """The WARNING and worse records LabLedger's own loggers write during the test."""
    handler = _Collect()
    logging.getLogger("app").addHandler(handler)
    yield handler.records
    logging.getLogger("app").removeHandler(handler)


def test_readyz_refuses_an_unmigrated_database_and_says_what_to_run(tmp_path, warnings_logged):
    url = _unmigrated(tmp_path)
    before = snapshot(tmp_path)
    with TestClient(create_app(_settings(url))) as client:
        ready = client.get("/readyz")
        api = client.get("/api/v1/machines", headers={"Authorization": "Bearer llk_x"})
        time.sleep(1.2)
        again = client.get("/readyz")
    assert ready.status_code == 503 and again.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable" and body["database"] == "not_migrated"
    assert "run `labledger db upgrade`" in body["detail"]
    assert "LABLEDGER_MIGRATE_ON_START" in body["detail"]
    assert api.status_code == 503
    assert api.json()["error"]["code"] == "unavailable"
    assert api.json()["error"]["message"] == body["detail"]
    assert len(warnings_logged) == 1, [r.getMessage() for r in warnings_logged]
    assert "labledger db upgrade" in warnings_logged[0].getMessage()
    assert warnings_logged[0].exc_info is None
    assert snapshot(tmp_path) == before
    dispose_engines()


def test_a_missing_file_is_not_created_by_the_service(tmp_path):
    url = f"sqlite:///{tmp_path}/lab.db"
    with TestClient(create_app(_settings(url))) as client:
        body = client.get("/readyz").json()
        client.get("/api/v1/machines")
    assert body["database"] == "missing" and "labledger db upgrade" in body["detail"]
    assert snapshot(tmp_path) == {}


def test_migrate_on_start_applies_migrations_and_is_ready(tmp_path):
    url = f"sqlite:///{tmp_path}/lab.db"
    with TestClient(create_app(_settings(url, migrate_on_start=True))) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["database"] == "ok"
    engine = create_engine(url)
    assert "machine" in inspect(engine).get_table_names()
    engine.dispose()
    dispose_engines()


def test_a_service_waiting_for_migrations_starts_ingest_once_they_are_applied(tmp_path):
    url = _unmigrated(tmp_path)
    app = create_app(_settings(url))
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 503
        assert not app.state.ingest.worker._thread.is_alive()
        upgrade_database(url)
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").json()["database"] == "ok"
        while not app.state.ingest.worker._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app.state.ingest.worker._thread.is_alive()
    dispose_engines()


def test_a_misspelled_variable_is_logged_at_start_up(tmp_path, monkeypatch, warnings_logged):
    monkeypatch.setenv("LABLEDGER_MQTT_HOSTNAME", "broker.lab")
    create_app(_settings(f"sqlite:///{tmp_path}/lab.db"))
    assert [r.getMessage() for r in warnings_logged] == [
        "LABLEDGER_MQTT_HOSTNAME (in the environment) is not a LabLedger setting; "
        "did you mean LABLEDGER_MQTT_HOST?"
    ]
