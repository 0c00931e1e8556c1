"""Replays the demo day through the real paths: MQTT messages through the router, codecs and
ingest worker; sales as signed generic-webhook deliveries to the application."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from app.config import Settings
from app.demo.asgi import post
from app.demo.cast import KIT_SKUS
from app.demo.day import Message
from app.ingest.routing import TopicRouter
from app.ingest.worker import IngestWorker, MqttInbound, WorkerConfig
from app.lab.sessions import ScanRules, close_idle_sessions, close_overlong_sessions

NEVER = float("inf")


@dataclass
class DeviceReplay:
    """What the ingest worker made of the day's messages."""

    messages: int
    batches: int


def replay_devices(engine: Engine, settings: Settings, messages: list[Message]) -> DeviceReplay:
    """Feed the messages, in order and timed as received, to a real ingest worker."""
    router = TopicRouter()
    with Session(engine) as db:
        router.rebuild(db)
    if router.problems:
        raise RuntimeError(f"demo machines did not configure: {router.problems}")
    rules = ScanRules.from_settings(settings)
    # No sweeps or refreshes while replaying: the day is in the past, and "now" would time
    # out sessions the replay has yet to close.
    worker = IngestWorker(
        engine,
        router,
        WorkerConfig(rules=rules, sweep_every_s=NEVER, refresh_every_s=NEVER),
        ack=lambda _message: None,
        on_change=lambda _machines: None,
        on_refresh=lambda: None,
    )
    for mid, message in enumerate(messages, start=1):
        worker.queue.put(MqttInbound(message.topic, message.payload, mid, 1, message.at))
    worker.start()
    worker.stop(timeout=600)
    with Session(engine) as db:  # what the service's sweep does: forgotten sessions time out
        end_of_day = max(m.at for m in messages) + timedelta(hours=1)
        close_overlong_sessions(db, end_of_day, rules)
        close_idle_sessions(db, end_of_day, rules)
        db.commit()
    return DeviceReplay(len(messages), worker.batches_written)


def demo_sales(day: datetime) -> list[dict[str, object]]:
    """The day's orders in LabLedger's generic webhook format (amounts in cents)."""
    kit, case = KIT_SKUS

    def order(
        n: int, clock: tuple[int, int], lines: list[tuple[str, int, int]], fees: int
    ) -> dict[str, object]:
        at = day + timedelta(hours=clock[0], minutes=clock[1])
        return {
            "id": f"demo-evt-{n}",
            "type": "sale",
            "order": f"demo-order-{n}",
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "currency": "EUR",
            "lines": [{"sku": s, "quantity": q, "amount_minor": a} for s, q, a in lines],
            "fees_minor": fees,
            "reference": f"demo order {n}",
        }

    return [
        order(1, (17, 10), [(kit, 1, 8900)], 287),
        order(2, (17, 45), [(kit, 2, 17800), (case, 1, 1900)], 601),
        order(3, (18, 25), [(case, 3, 5700)], 195),
    ]


def post_sales(settings: Settings, orders: list[dict[str, object]]) -> list[str]:
    """POST each order, signed, to the application's generic webhook; returns the outcomes."""
    from app.main import create_app

    secret = secrets.token_hex(16)
    app = create_app(
        settings.model_copy(
            update={"mqtt_enabled": False, "generic_webhook_secrets": [SecretStr(secret)]}
        )
    )
    outcomes = []
    for order in orders:
        body = json.dumps(order).encode()
        stamp = int(time.time())
        digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        status, answer = post(
            app,
            "/webhooks/generic",
            body,
            {
                "content-type": "application/json",
                "x-labledger-signature": f"t={stamp},v1={digest.hexdigest()}",
            },
        )
        if status != 200:
            raise RuntimeError(f"the demo sale {order['id']} was refused ({status}): {answer}")
        outcomes.extend(answer["outcomes"])
    return outcomes
