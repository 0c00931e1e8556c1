"""The suite's own Mosquitto: started on a free port, restartable, persistent."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def connect(port: int, client_id: str) -> tuple[mqtt.Client, queue.Queue]:
    received: queue.Queue = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, message: received.put((message.topic, message.payload))
    client.connect("127.0.0.1", port, clean_start=False, properties=_session(3600))
    client.loop_start()
    return client, received


def _session(expiry: int):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = expiry
    return properties


def test_broker_keeps_a_persistent_session_across_a_restart(broker):
    subscriber, received = connect(broker.port, "fixture-sub")
    subscriber.subscribe("lab/v1/test", qos=1)[0]
    import time

    time.sleep(0.3)
    subscriber.loop_stop()
    subscriber.disconnect()

    publisher, _ = connect(broker.port, "fixture-pub")
    publisher.publish("lab/v1/test", b"queued", qos=1).wait_for_publish(5)
    publisher.loop_stop()
    publisher.disconnect()

    broker.restart()
    subscriber, received = connect(broker.port, "fixture-sub")
    try:
        assert received.get(timeout=10) == ("lab/v1/test", b"queued")
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
