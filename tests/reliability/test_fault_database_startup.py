"""Fault: the service starts before its PostgreSQL server does.

A real service process on a real (stopped) cluster: /readyz and every API call
say why (503, naming the setting), the service keeps retrying, and once the
server is started it becomes ready by itself and records every event and sale
sent afterwards exactly once.
"""

from __future__ import annotations

import time

import httpx2

from app.db import upgrade_database
from tests.ingest.conftest import Publisher, eventually
from tests.reliability import fault_support as fs
from tests.shops import body_of, generic_headers

EVENTS = 60
SALES = 10


def _readyz(url: str) -> httpx2.Response:
    return httpx2.get(f"{url}/readyz", timeout=30)


def test_a_service_started_before_its_database_waits_then_records_everything(
    pg_cluster, broker, service_process
):
    pg_cluster.start()
    upgrade_database(pg_cluster.url)
    machine_id = fs.set_up_lab(pg_cluster.url)
    pg_cluster.stop()

    service = service_process(
        on=pg_cluster.url,
        mqtt_port=str(broker.port),
        mqtt_client_id="fault-startup",
        migrate_on_start="true",
        **fs.SERVICE_SETTINGS,
    )
    first = _readyz(service.url)
    assert first.status_code == 503
    assert first.json()["database"] == "unreachable"
    assert "connection refused" in first.json()["detail"]
    assert "LABLEDGER_DATABASE_URL" in first.json()["detail"]
    body = body_of(fs.sale_event(0))
    refused = httpx2.post(
        f"{service.url}/webhooks/generic", content=body, headers=generic_headers(body), timeout=30
    )
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert refused.json()["error"]["code"] == "unavailable"
    time.sleep(2.5)  # the database stays away for a while: the service keeps waiting
    assert _readyz(service.url).status_code == 503

    pg_cluster.start()
    eventually(lambda: _readyz(service.url).status_code == 200, timeout=60, interval=0.5)
    publisher = Publisher(broker.port)
    try:
        fs.wait_until_listening(publisher, pg_cluster.url)
        messages = fs.stream(EVENTS)
        for topic, payload in messages:
            publisher.send(topic, payload)
    finally:
        publisher.close()
    shop = fs.Shop(service.url)
    for number in range(SALES):
        shop.deliver(fs.sale_event(number))
    eventually(lambda: fs.recorded_count(pg_cluster.url) >= EVENTS + 1, timeout=60)

    with fs.database(pg_cluster.url) as engine:
        ids = fs.event_ids(engine)
        assert sorted(ids) == sorted([fs.PROBE_ID, *(p["id"] for _t, p in messages)])
        (run,) = fs.runs(engine, machine_id)
        assert run.end_reason == "finished" and run.busy_s == EVENTS
        assert sorted(fs.sales(engine)) == sorted(fs.sent_sales(SALES))
    assert set(shop.statuses) == {200}
    assert "Traceback" not in service.log_path.read_text()
