"""When the broker drops messages (a queue too small for a flood), the service says so."""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from app.main import create_app
from tests.broker import MosquittoBroker
from tests.ingest.conftest import FAST, Publisher, eventually, service_settings

QUEUE = 10
FLOOD = 60


def _absent_subscriber(port: int) -> None:
    """A persistent session subscribed with QoS 1 that goes away, so the broker queues for it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="absent", protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    client.subscribe("flood/#", qos=1)
    assert subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def test_a_broker_that_drops_messages_is_reported_in_readyz_and_the_log(settings, tmp_path):
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("app.ingest.mqtt_client").addHandler(handler)
    broker = MosquittoBroker(tmp_path / "small", extra=f"max_queued_messages {QUEUE}\n")
    broker.start()
    try:
        app = create_app(service_settings(settings, broker.port, "svc-drops"), FAST)
        with TestClient(app) as client:
            eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected")
            assert client.get("/readyz").json()["mqtt"]["warning"] is None
            _absent_subscriber(broker.port)
            publisher = Publisher(broker.port)
            for n in range(FLOOD):
                publisher.send(f"flood/{n}", {"n": n})
            publisher.close()
            mqtt_status = eventually(
                lambda: (m := client.get("/readyz").json()["mqtt"])["broker_dropped"] and m,
                timeout=20,
            )
        assert mqtt_status["broker_dropped"] >= FLOOD - QUEUE
        assert "raise max_queued_messages" in mqtt_status["warning"]
        assert any("the MQTT broker has dropped" in w for w in warnings)
    finally:
        broker.stop()
        logging.getLogger("app.ingest.mqtt_client").removeHandler(handler)
