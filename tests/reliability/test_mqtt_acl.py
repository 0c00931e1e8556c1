"""Hole 9: with the example ACL, a bridge publishes only for its own machines and readers.

Before: every bridge user could write `lab/v1/badge/#` and `lab/v1/machine/#`,
so one leaked bridge password could fake badge-ins and runs lab-wide.
The broker here is a real Mosquitto with the shipped `deploy/mosquitto/acl`.
"""

from __future__ import annotations

import getpass
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.broker import free_port, mosquitto_binary
from tests.ingest.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
ACL = ROOT / "deploy" / "mosquitto" / "acl"
USERS = ("labledger", "bridge-workshop-pi", "bridge-office-pi")


@pytest.fixture
def acl_broker(tmp_path):
    passwd = tmp_path / "passwd"
    for n, user in enumerate(USERS):
        flags = ["-c"] if n == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *flags, "-b", str(passwd), user, f"pw-{user}"], check=True
        )
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"user {getpass.getuser()}\n"
        "allow_anonymous false\n"
        f"password_file {passwd}\n"
        f"acl_file {ACL}\n"
        f"log_dest file {tmp_path}/mosquitto.log\n"
    )
    process = subprocess.Popen(
        [mosquitto_binary(), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import socket

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    eventually(listening, timeout=10)
    yield port
    process.terminate()
    process.wait(10)


def _client(port: int, user: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, f"pw-{user}")
    connected = threading.Event()
    client.on_connect = lambda *_a, **_k: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10), f"{user} could not connect"
    return client


def test_a_bridge_cannot_publish_into_another_bridges_subtree(acl_broker):
    service = _client(acl_broker, "labledger")
    seen: list[str] = []
    service.on_message = lambda _c, _u, message: seen.append(message.topic)
    service.subscribe([("lab/v1/#", 1), ("device/+/report", 1)])
    pi1 = _client(acl_broker, "bridge-workshop-pi")
    pi2 = _client(acl_broker, "bridge-office-pi")
    try:
        own = [
            "lab/v1/machine/prusa-mk3s/state",
            "lab/v1/badge/door",
            "lab/v1/bridge/workshop-pi/status",
            "device/01S00A000000000/report",
        ]
        foreign = [
            "lab/v1/machine/ultimaker-2/state",  # the office bridge's printer
            "lab/v1/badge/office-door",  # the office bridge's reader
            "lab/v1/bridge/office-pi/status",  # the office bridge's status
            "lab/v1/machine/anything-else/state",
            "lab/v1/service/labledger",
            "device/OTHER-PRINTER/report",
        ]
        for topic in foreign + own:
            pi1.publish(topic, b'{"state": "running"}', qos=1).wait_for_publish(10)
        pi2.publish("lab/v1/machine/ultimaker-2/state", b"{}", qos=1).wait_for_publish(10)
        pi2.publish("lab/v1/machine/prusa-mk3s/state", b"{}", qos=1).wait_for_publish(10)
        pi2.publish("lab/v1/bridge/office-pi/status", b"{}", qos=1).wait_for_publish(10)
        pi2.publish("lab/v1/badge/office-door", b"done", qos=1).wait_for_publish(10)
        eventually(lambda: "lab/v1/badge/office-door" in seen)
    finally:
        for client in (pi1, pi2, service):
            client.loop_stop()
            client.disconnect()
    assert sorted(set(seen)) == sorted(
        {
            *own,
            "lab/v1/machine/ultimaker-2/state",
            "lab/v1/bridge/office-pi/status",
            "lab/v1/badge/office-door",
        }
    )
    assert seen.count("lab/v1/machine/prusa-mk3s/state") == 1  # the office's attempt never came
