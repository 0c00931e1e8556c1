"""A running service connected to the suite's own broker, and a publisher."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from app.config import Settings
from app.ingest.worker import WorkerConfig
from app.main import create_app

_ids = itertools.count(1)


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until `check` returns something truthy, or fail with its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


class Publisher:
    """A plain MQTT client publishing with QoS 1 and waiting for each PUBACK."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-pub-{next(_ids)}", protocol=mqtt.MQTTv5
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: Any, retain: bool = False) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(topic, body, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def service_settings(settings: Settings, port: int, client_id: str, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "mqtt_enabled": True,
            "mqtt_host": "127.0.0.1",
            "mqtt_port": port,
            "mqtt_client_id": client_id,
            **extra,
        }
    )


FAST = WorkerConfig(refresh_every_s=0.5, sweep_every_s=0.5)


@pytest.fixture
def live(settings, broker, engine) -> Iterator[TestClient]:
    """The service with ingest running against the test broker."""
    app = create_app(service_settings(settings, broker.port, f"svc-{next(_ids)}"), FAST)
    with TestClient(app, raise_server_exceptions=False) as client:
        eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected")
        yield client


@pytest.fixture
def publisher(broker) -> Iterator[Publisher]:
    pub = Publisher(broker.port)
    yield pub
    pub.close()
