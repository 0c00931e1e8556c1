"""The production files refer to real settings, services and ports (they cannot run here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_app_broker_and_database():
    services = compose()["services"]
    assert {"app", "migrate", "mosquitto", "postgres"} <= set(services)
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    migrated = services["app"]["depends_on"]["migrate"]["condition"]
    assert migrated == "service_completed_successfully"
    assert any("postgres-data" in volume for volume in services["postgres"]["volumes"])


def test_app_environment_names_only_real_settings():
    environment = compose()["services"]["app"]["environment"]
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert set(environment) <= known, set(environment) - known
    assert environment["LABLEDGER_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["LABLEDGER_MQTT_HOST"] == "mosquitto"


def test_ports_match_the_settings_and_the_dockerfile():
    services = compose()["services"]
    environment = services["app"]["environment"]
    # Replicas scale: each gets a host port from a range, never one fixed port.
    assert f"8000-8009:{environment['LABLEDGER_HTTP_PORT']}" in services["app"]["ports"]
    assert int(environment["LABLEDGER_INGEST_SLOTS"]) > 1
    assert "1883:1883" in services["mosquitto"]["ports"]
    assert "EXPOSE 8000" in (ROOT / "Dockerfile").read_text()
    Settings(
        http_port=int(environment["LABLEDGER_HTTP_PORT"]),
        mqtt_port=int(environment["LABLEDGER_MQTT_PORT"]),
        _env_file=None,
    )


def test_mosquitto_is_not_anonymous_and_has_an_acl():
    config = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", config, re.M)
    password_file = re.search(r"^password_file (\S+)$", config, re.M)
    acl_file = re.search(r"^acl_file (\S+)$", config, re.M)
    assert password_file and acl_file
    mounts = " ".join(compose()["services"]["mosquitto"]["volumes"])
    assert "deploy/mosquitto/acl:" + acl_file.group(1) in mounts.replace(":ro", "")
    acl = (ROOT / "deploy/mosquitto/acl").read_text()
    assert "user labledger" in acl and "topic read lab/v1/#" in acl


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`{ENV_PREFIX}{name.upper()}`" in readme, name


def test_the_service_role_is_not_the_owner_and_gets_least_privilege():
    services = compose()["services"]
    owner_url = services["migrate"]["environment"]["LABLEDGER_DATABASE_URL"]
    service_url = services["app"]["environment"]["LABLEDGER_DATABASE_URL"]
    assert owner_url.startswith("postgresql+psycopg://labledger:")
    assert service_url.startswith("postgresql+psycopg://labledger_app:")
    assert "db grant labledger_app" in " ".join(services["migrate"]["command"])
    assert "db upgrade" not in " ".join(services["app"]["command"])
    role_script = (ROOT / "deploy" / "postgres" / "service-role.sh").read_text()
    assert "CREATE ROLE labledger_app LOGIN" in role_script
    mounts = " ".join(services["postgres"]["volumes"])
    assert "deploy/postgres/service-role.sh:/docker-entrypoint-initdb.d/" in mounts


def test_the_sample_bridge_user_and_plug_user_are_in_the_sample_acl():
    import tomllib

    bridge = tomllib.loads((ROOT / "firmware-bridge/bridge.toml.example").read_text())
    acl = (ROOT / "deploy/mosquitto/acl").read_text()
    assert f"user {bridge['broker']['username']}" in acl
    assert f"topic readwrite lab/v1/bridge/{bridge['bridge']['id']}/#" in acl
    assert "user plug-laser" in acl and "topic write tele/laser/#" in acl
    devices = (ROOT / "docs/devices.md").read_text()
    assert "`plug-laser`" in devices and "**Topic**\n`laser`" in devices


def test_grafana_dashboard_uses_only_series_the_service_exports(client, admin):
    import json
    import re

    from tests import factories

    factories.machine(client, admin, name="Graphed")
    dashboard = json.loads((ROOT / "deploy/grafana/labledger.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"labledger_[a-z_]+", e)}
    metrics = client.get("/metrics").text
    exported = set(re.findall(r"^(labledger_[a-z_]+)[{ ]", metrics, re.MULTILINE))
    assert len(used) == 5 and used <= exported, used - exported
