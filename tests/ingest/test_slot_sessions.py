"""A slot's session restored by the broker drops what it must not read any more.

Before slots read plainly, every slot was in the shared group; under another
slot count its share of the topics was different. Mosquitto keeps a persistent
session's subscriptions, so a slot that connects to an old session would get
those messages too, twice (plain and group) or meant for another slot. The
sessions here are left as an older deployment would have left them; the
service then receives each message once.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import REGISTRY
from sqlmodel import Session, func, select

from app.lab.activity import DeviceEvent
from app.lab.models import MachineCreate
from app.lab.service import create_machine
from app.main import create_app
from tests.ingest.conftest import FAST, Publisher, eventually, service_settings

MACHINES = 6
SLOTS = 2


def _old_session(port: int, client_id: str, filters: list[str]) -> None:
    """Leave a persistent session holding `filters`, then go away as a stopped replica does."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    granted: list[int] = []
    client.on_subscribe = lambda *args: granted.append(args[2])
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    _, mid = client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])
    eventually(lambda: mid in granted, timeout=30)
    client.disconnect()
    client.loop_stop()


def _received() -> float:
    return REGISTRY.get_sample_value("labledger_ingest_messages_total", {"transport": "mqtt"}) or 0


def _count(engine) -> int:
    with Session(engine) as db:
        return int(db.exec(select(func.count()).select_from(DeviceEvent)).one())


def test_a_slot_drops_the_group_and_other_slots_topics_its_old_session_kept(
    settings, broker, engine
):
    with Session(engine) as db:
        for n in range(MACHINES):
            create_machine(
                db, MachineCreate(name=f"Q{n}", kind="printer", adapter="lab", address=f"q{n}")
            )
    topics = [f"lab/v1/machine/q{n}/state" for n in range(MACHINES)]
    old = [*topics, *(f"$share/lab/{topic}" for topic in topics)]
    for slot in range(SLOTS):
        _old_session(broker.port, f"svc-old-slot{slot}", old)
    config = service_settings(
        settings, broker.port, "svc-old", ingest_slots=SLOTS, mqtt_shared_group="lab"
    )
    ids = itertools.count()
    start = datetime(2026, 7, 1, 8, tzinfo=UTC)

    def send_round(publisher: Publisher, per_topic: int) -> int:
        for topic in topics:
            for _ in range(per_topic):
                i = next(ids)
                at = (start + timedelta(seconds=i)).isoformat()
                publisher.send(topic, {"state": "running", "id": f"o{i}", "at": at})
        return per_topic * len(topics)

    with TestClient(create_app(config, FAST), raise_server_exceptions=False) as client:
        eventually(lambda: client.get("/readyz").json()["mqtt"]["slots"] == [0, 1], timeout=60)
        before = _received()
        publisher = Publisher(broker.port)
        sent = send_round(publisher, 5)
        eventually(lambda: _count(engine) == sent, timeout=60)
        # One more message per device: once each is recorded, every slot's connection has
        # delivered all it was going to deliver of the first round (in order, per session).
        sent += send_round(publisher, 1)
        eventually(lambda: _count(engine) == sent, timeout=60)
        publisher.close()
        received = _received() - before
    assert received == sent
