"""The interlock over a real broker: a fake Tasmota plug switched and confirmed, replies to readers."""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from app.api.keys import Role
from app.ingest.worker import WorkerConfig
from app.lab.sessions import ScanRules
from app.main import create_app
from tests import factories
from tests.ingest.conftest import Publisher, eventually, service_settings

_ids = itertools.count(1)
QUICK = WorkerConfig(
    refresh_every_s=0.3, sweep_every_s=0.3, interlock_every_s=0.1, rules=ScanRules(debounce_s=0)
)


class FakeTasmota:
    """A Tasmota plug on the broker: answers `cmnd/<topic>/POWER` with `stat/<topic>/POWER`."""

    def __init__(self, port: int, topic: str, answers: bool = True) -> None:
        self.topic = topic
        self.answers = answers
        self.commands: list[tuple[float, str]] = []
        self.power = "OFF"
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"tasmota-{next(_ids)}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"cmnd/{topic}/POWER", qos=1)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_message(self, client, _userdata, message) -> None:
        word = message.payload.decode().upper()
        with self._lock:
            self.commands.append((time.monotonic(), word))
            if not self.answers:
                return
            self.power = word
        client.publish(f"stat/{self.topic}/POWER", word.encode(), qos=1)

    def words(self) -> list[str]:
        with self._lock:
            return [word for _t, word in self.commands]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Listener:
    """Collects replies to readers."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, dict]] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"listener-{next(_ids)}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, json.loads(m.payload))
        )
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("lab/v1/badge/+/reply", qos=1)
        self.client.loop_start()
        assert self._ready.wait(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def service(settings, broker, engine):
    app = create_app(
        service_settings(
            settings,
            broker.port,
            f"svc-{next(_ids)}",
            interlock_confirm_s=0.5,
            interlock_attempts=2,
        ),
        QUICK,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected")
        yield client


class Bench:
    """A laser-cutter-like machine behind a Tasmota plug, a reader, a trainer and two makers."""

    def __init__(self, client, admin, broker, cooldown_s=0):
        self.client = client
        self.admin = admin
        self.machine = factories.machine(
            client,
            admin,
            name="Laser",
            kind="laser",
            adapter="lab",
            address="laser",
            requires_induction=True,
            interlock="tasmota",
            interlock_address="plug-laser",
            interlock_cooldown_s=cooldown_s,
        )
        factories.reader(client, admin, name="laser-reader", machine_id=self.machine["id"])
        self.ada = factories.contributor(client, admin, name="Ada")
        self.bob = factories.contributor(client, admin, name="Bob")
        trainer = factories.contributor(client, admin, name="Tess")
        factories.badge(client, admin, self.ada["id"], "0012771493")
        factories.badge(client, admin, self.bob["id"], "0000000042")
        self.call("post", "trainers", contributor_id=trainer["id"], machine_id=self.machine["id"])
        self.call(
            "post",
            "inductions",
            contributor_id=self.ada["id"],
            machine_id=self.machine["id"],
            trainer_id=trainer["id"],
            granted_at="2026-01-01T00:00:00Z",
        )

    def call(self, method, path, **body):
        kwargs = {"json": body} if method in ("post", "patch") else {"params": body}
        response = getattr(self.client, method)(f"/api/v1/{path}", headers=self.admin, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def power(self):
        return self.call("get", f"machines/{self.machine['id']}/power")

    def command_status(self):
        command = self.power()["last_command"]
        return command and (command["want_on"], command["status"])


@pytest.fixture
def publisher(broker):
    pub = Publisher(broker.port)
    yield pub
    pub.close()


@pytest.fixture
def listener(broker):
    instance = Listener(broker.port)
    yield instance
    instance.close()


def _wait_subscribed(service, topic_part):
    """Wait until the broker granted the relay's topic and the reader's (a scan sent
    before the reader's subscription is granted would reach nobody)."""
    for part in (topic_part, "lab/v1/badge/laser-reader"):
        eventually(
            lambda part=part: any(part in f for f in service.app.state.ingest.link.acknowledged), 10
        )


def test_an_inducted_badge_switches_the_plug_on_and_the_switch_is_confirmed(
    service, broker, admin, publisher, listener
):
    bench = Bench(service, admin, broker)
    plug = FakeTasmota(broker.port, "plug-laser")
    _wait_subscribed(service, "stat/plug-laser/POWER")
    publisher.send("lab/v1/badge/laser-reader", {"badge": "0012771493", "id": "scan-1"})

    eventually(lambda: bench.command_status() == (True, "confirmed"))
    assert plug.words() == ["ON"]
    power = bench.power()
    assert power["reported_on"] is True and power["last_command"]["attempts"] == 1
    reply = eventually(lambda: listener.messages)
    assert reply[0] == (
        "lab/v1/badge/laser-reader/reply",
        {"allowed": True, "reason": None, "scan_id": "scan-1"},
    )
    plug.close()


def test_a_badge_without_an_induction_is_denied_recorded_and_answered(
    service, broker, admin, publisher, listener
):
    bench = Bench(service, admin, broker)
    plug = FakeTasmota(broker.port, "plug-laser")
    _wait_subscribed(service, "lab/v1/badge/laser-reader")
    publisher.send("lab/v1/badge/laser-reader", {"badge": "0000000042", "id": "scan-bob"})

    topic, body = eventually(lambda: listener.messages)[0]
    assert (topic, body) == (
        "lab/v1/badge/laser-reader/reply",
        {"allowed": False, "reason": "not_inducted", "scan_id": "scan-bob"},
    )
    (denied,) = bench.call("get", "denied-scans")["items"]
    assert (denied["contributor_id"], denied["reason"]) == (bob := bench.bob["id"], "not_inducted")
    assert bob and bench.call("get", "sessions")["total"] == 0
    metrics = service.get("/metrics").text
    assert 'labledger_access_denied_scans_total{reason="not_inducted"}' in metrics
    time.sleep(0.5)
    assert plug.words() == [] and bench.power()["last_command"] is None
    plug.close()


def test_badge_out_during_a_run_keeps_power_until_the_run_ends_and_the_cooldown_passes(
    service, broker, admin, publisher
):
    bench = Bench(service, admin, broker, cooldown_s=1)
    plug = FakeTasmota(broker.port, "plug-laser")
    _wait_subscribed(service, "stat/plug-laser/POWER")
    publisher.send("lab/v1/badge/laser-reader", {"badge": "0012771493", "id": "in"})
    eventually(lambda: bench.command_status() == (True, "confirmed"))
    publisher.send("lab/v1/machine/laser/state", {"state": "running", "id": "run"})
    eventually(lambda: bench.call("get", "runs", open=True)["total"] == 1)
    publisher.send("lab/v1/badge/laser-reader", {"badge": "0012771493", "id": "out"})
    eventually(lambda: bench.call("get", "sessions", open=False)["total"] == 1)

    eventually(lambda: bench.power()["holding"] == "run in progress")
    time.sleep(1.0)
    assert plug.words() == ["ON"] and plug.power == "ON"

    publisher.send("lab/v1/machine/laser/state", {"state": "finished", "id": "end"})
    finished = time.monotonic()
    eventually(lambda: (bench.power()["holding"] or "").startswith("cool-down until"))
    eventually(lambda: bench.command_status() == (False, "confirmed"))
    assert plug.words() == ["ON", "OFF"]
    off_at = plug.commands[-1][0]
    assert off_at - finished >= 0.9  # the cool-down (fume extraction) ran first
    assert bench.power()["last_command"]["reason"] == "cooldown"
    plug.close()


def test_an_unconfirmed_command_is_retried_then_raised_for_review(
    service, broker, admin, publisher
):
    bench = Bench(service, admin, broker)
    plug = FakeTasmota(broker.port, "plug-laser", answers=False)
    _wait_subscribed(service, "stat/plug-laser/POWER")
    publisher.send("lab/v1/badge/laser-reader", {"badge": "0012771493", "id": "in"})

    eventually(lambda: bench.command_status() == (True, "failed"))
    assert plug.words() == ["ON", "ON"]
    (failed,) = bench.call("get", "power-commands", status="failed")["items"]
    assert failed["attempts"] == 2 and "no confirmation" in failed["detail"]
    assert 'labledger_interlock_commands_total{result="failed"} ' in service.get("/metrics").text
    plug.close()


def test_admin_key_needed_for_the_edge_list_and_versions_are_etags(client, admin, key_for):
    device = key_for(Role.DEVICE)
    viewer = key_for(Role.VIEWER)
    machine = factories.machine(
        client, admin, name="Mill", adapter="lab", address="mill", requires_induction=True
    )
    factories.reader(client, admin, name="mill-reader", machine_id=machine["id"])
    assert client.get("/api/v1/access/edge", headers=viewer).status_code == 403
    first = client.get("/api/v1/access/edge", headers=device, params={"reader": "mill-reader"})
    assert first.status_code == 200
    body = first.json()
    assert body["readers"][0]["cards"] == [] and body["readers"][0]["requires_induction"]
    etag = first.headers["ETag"]
    again = client.get("/api/v1/access/edge", headers={**device, "If-None-Match": etag})
    assert again.status_code == 304


class FakeShelly:
    """A Shelly Gen2 switch: answers `Switch.Set` on `<prefix>/rpc` with `status/switch:0`."""

    def __init__(self, port: int, prefix: str) -> None:
        self.prefix = prefix
        self.calls: list[dict] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"shelly-{next(_ids)}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/rpc", qos=1)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_message(self, client, _userdata, message) -> None:
        call = json.loads(message.payload)
        self.calls.append(call)
        on = call["params"]["on"]
        status = {"id": 0, "source": "MQTT", "output": on, "apower": 0.0}
        client.publish(f"{self.prefix}/status/switch:0", json.dumps(status), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_shelly_is_switched_by_rpc_and_an_idle_timeout_switches_it_off(
    service, broker, admin, publisher
):
    bench = Bench(service, admin, broker)
    bench.call(
        "patch",
        f"machines/{bench.machine['id']}",
        interlock="shelly",
        interlock_address="shellyplus1-laser",
        idle_timeout_s=30,
    )
    shelly = FakeShelly(broker.port, "shellyplus1-laser")
    _wait_subscribed(service, "shellyplus1-laser/status/switch:0")
    # A badge-in 40 s ago at an idle machine whose timeout is 30 s.
    long_ago = (datetime.now(UTC) - timedelta(seconds=40)).isoformat()
    publisher.send("lab/v1/badge/laser-reader", {"badge": "0012771493", "id": "in", "at": long_ago})

    eventually(lambda: bench.command_status() == (False, "confirmed"))
    # The session timed out at once, so its "on" may be superseded before it was ever sent.
    assert [c["params"]["on"] for c in shelly.calls][-1] is False
    assert bench.power()["last_command"]["reason"] == "timeout"
    assert {c["method"] for c in shelly.calls} == {"Switch.Set"}
    (session,) = bench.call("get", "sessions")["items"]
    assert session["close_reason"] == "timeout"
    shelly.close()
