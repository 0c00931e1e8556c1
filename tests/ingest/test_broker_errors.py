"""An unreachable broker is LabLedger's own log line (host, port, reason), repeated with
backoff and shown in /readyz; paho's own messages stay at DEBUG."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.ingest.mqtt_client import MqttLink
from app.ingest.status import BrokerStatus, LinkState
from app.main import create_app
from tests.broker import MosquittoBroker, free_port
from tests.ingest.conftest import eventually


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    handler = _Collect()
    for name in ("app", "paho"):
        logging.getLogger(name).addHandler(handler)
    yield handler.records
    for name in ("app", "paho"):
        logging.getLogger(name).removeHandler(handler)


def _link(settings: Settings, **values: object) -> tuple[MqttLink, BrokerStatus]:
    status = BrokerStatus()
    link = MqttLink(
        settings.model_copy(update={"mqtt_enabled": True, **values}), status, lambda _m: None
    )
    return link, status


def _failures(records: list[logging.LogRecord]) -> list[str]:
    return [
        r.getMessage()
        for r in records
        if r.name == "app.ingest.mqtt_client" and r.levelno == logging.WARNING
    ]


def test_a_refused_connection_is_one_line_with_host_port_reason_repeated_with_backoff(
    settings, logged
):
    port = free_port()
    app = create_app(
        settings.model_copy(
            update={
                "mqtt_enabled": True,
                "mqtt_host": "127.0.0.1",
                "mqtt_port": port,
            }
        )
    )
    with TestClient(app) as client:
        lines = eventually(lambda: len(_failures(logged)) >= 2 and _failures(logged), timeout=10)
        mqtt = client.get("/readyz").json()["mqtt"]
    assert lines[0] == (
        f"cannot connect to the MQTT broker at 127.0.0.1:{port}: connection refused "
        "(is the broker running on this port?); retrying in 1s (attempt 1)"
    )
    assert lines[1].endswith("retrying in 2s (attempt 2)")
    assert mqtt["state"] == "disconnected"
    assert f"127.0.0.1:{port}: connection refused" in mqtt["detail"]
    paho = [r for r in logged if r.name == "paho"]
    assert all(r.levelno == logging.DEBUG for r in paho)


def test_an_unknown_host_is_named_as_a_dns_failure(settings, logged):
    link, _status = _link(settings, mqtt_host="no-such-broker.invalid", mqtt_port=1883)
    link.start()
    try:
        eventually(lambda: _failures(logged), timeout=15)
    finally:
        link.stop()
    assert _failures(logged)[0].startswith(
        "cannot connect to the MQTT broker at no-such-broker.invalid:1883: "
        "host name not found (DNS)"
    )


def test_tls_to_a_plain_listener_is_named_as_a_tls_failure(settings, logged, broker):
    link, _status = _link(settings, mqtt_host="127.0.0.1", mqtt_port=broker.port, mqtt_tls=True)
    link.start()
    try:
        eventually(lambda: _failures(logged), timeout=15)
    finally:
        link.stop()
    line = _failures(logged)[0]
    assert line.startswith(f"cannot connect to the MQTT broker at 127.0.0.1:{broker.port} (TLS): ")
    assert "TLS" in line.split(": ", 1)[1]


def test_a_refused_password_is_named_as_an_auth_failure(settings, logged, tmp_path):
    broker = MosquittoBroker(tmp_path / "auth")
    passwd = tmp_path / "auth" / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "labledger", "right"], check=True)
    text = broker.config.read_text().replace("allow_anonymous true", "allow_anonymous false")
    broker.config.write_text(text + f"password_file {passwd}\n")
    broker.start()
    link, status = _link(
        settings,
        mqtt_host="127.0.0.1",
        mqtt_port=broker.port,
        mqtt_username="labledger",
        mqtt_password=SecretStr("wrong"),
    )
    link.start()
    try:
        eventually(lambda: _failures(logged), timeout=15)
        time.sleep(0.1)
    finally:
        link.stop()
        broker.stop()
    line = _failures(logged)[0]
    assert line.startswith(f"cannot connect to the MQTT broker at 127.0.0.1:{broker.port}: ")
    assert "auth: check LABLEDGER_MQTT_USERNAME and LABLEDGER_MQTT_PASSWORD" in line
    assert "wrong" not in line
    assert status.state in (LinkState.DISCONNECTED, LinkState.DISABLED)
