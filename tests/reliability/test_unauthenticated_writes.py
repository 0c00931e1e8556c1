"""Hole 8: unsigned POSTs cannot fill the rejected-delivery table, and are rate-limited.

Before: every unsigned POST added a row to rejected_delivery, without bound
and without limit on how fast.
"""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.accounting.sales.tables import RejectedDelivery
from app.api.middleware.rate_limit import FailureBuckets
from app.api.webhooks import routes as webhook_routes
from app.main import create_app
from tests.shops import SECRETS, body_of, stripe_checkout, stripe_headers


def _rejected(engine) -> int:
    with Session(engine) as db:
        return int(db.exec(select(func.count()).select_from(RejectedDelivery)).one())


def _metric(client, provider: str) -> float:
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("labledger_webhook_rejects_total{") and f'provider="{provider}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _shop_settings(settings, **extra):
    from pydantic import SecretStr

    update = {name: [SecretStr(value)] for name, value in SECRETS.items()}
    return settings.model_copy(update={**update, **extra})


def test_the_rejected_delivery_table_is_bounded(settings, engine, monkeypatch):
    monkeypatch.setattr(webhook_routes, "REJECTED_DELIVERIES_KEPT", 25)
    generous = _shop_settings(settings, unauth_write_burst=100_000)
    with TestClient(create_app(generous)) as client:
        counted_before = _metric(client, "stripe")
        for n in range(80):
            response = client.post(
                "/webhooks/stripe",
                content=json.dumps({"n": n}),
                headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
            )
            assert response.status_code == 401
        assert _rejected(engine) == 25
        # Every refusal is still counted, pruned or not.
        assert _metric(client, "stripe") - counted_before == 80
    with Session(engine) as db:
        newest = db.exec(select(RejectedDelivery).order_by(RejectedDelivery.id.desc())).first()
    assert newest is not None and newest.code == "signature_invalid"


def test_refused_writes_from_one_source_are_slowed_with_429(settings, engine):
    limited = _shop_settings(settings, unauth_write_burst=10, unauth_write_per_minute=6)
    with TestClient(create_app(limited)) as client:
        statuses = [
            client.post(
                "/webhooks/generic", content=b"{}", headers={"Content-Type": "application/json"}
            ).status_code
            for _ in range(15)
        ]
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429] * 5
        response = client.post("/webhooks/generic", content=b"{}")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "10"
        error = response.json()["error"]
        assert error["code"] == "too_many_requests"
        assert error["details"] == {"retry_after_s": 10}
        # 429s write nothing: the table holds only the ten refusals.
        assert _rejected(engine) == 10
        # Unauthenticated API writes count too; reads are never limited.
        assert client.post("/api/v1/contributors", json={"name": "x"}).status_code == 429
        assert client.get("/healthz").status_code == 200


def test_accepted_deliveries_never_pay(settings, engine):
    limited = _shop_settings(settings, unauth_write_burst=3, unauth_write_per_minute=1)
    with TestClient(create_app(limited)) as client:
        for n in range(8):
            body = body_of(
                stripe_checkout(
                    f"evt_ok_{n}", f"cs_ok_{n}", [{"sku": "SKU-X", "quantity": 1, "amount": 100}]
                )
            )
            response = client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
            assert response.status_code == 200, response.text


def test_buckets_refill_and_are_per_source():
    now = [0.0]
    buckets = FailureBuckets(burst=2, per_minute=60, clock=lambda: now[0])
    buckets.charge("a")
    buckets.charge("a")
    assert buckets.retry_after("a") == 1
    assert buckets.retry_after("b") is None
    now[0] += 1.0
    assert buckets.retry_after("a") is None


def test_the_source_table_is_bounded(monkeypatch):
    from app.api.middleware import rate_limit

    monkeypatch.setattr(rate_limit, "MAX_SOURCES", 100)
    buckets = FailureBuckets(burst=1, per_minute=1)
    for n in range(1000):
        buckets.charge(f"10.0.{n // 256}.{n % 256}")
    assert len(buckets._buckets) == 100
