"""The `labledger` command as a user runs it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.cli.support import run_cli


def test_db_upgrade_then_keys_create_prints_a_working_key(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    upgraded = run_cli("db", "upgrade", database_url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    made = run_cli("keys", "create", "--role", "admin", "--name", "ops laptop", database_url=url)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("llk_")
    assert key not in made.stderr
    settings = Settings(database_url=url, mqtt_enabled=False, _env_file=None)
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/contributors", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_bad_setting_stops_the_cli_with_the_variable_named(tmp_path):
    result = run_cli(
        "db", "upgrade", database_url=f"sqlite:///{tmp_path}/x.db", LABLEDGER_MQTT_PORT="99999"
    )
    assert result.returncode == 2
    assert "LABLEDGER_MQTT_PORT" in result.stderr


def test_unknown_role_is_refused(tmp_path):
    result = run_cli(
        "keys", "create", "--role", "root", "--name", "x", database_url=f"sqlite:///{tmp_path}/x.db"
    )
    assert result.returncode != 0
    assert "root" in result.stderr
