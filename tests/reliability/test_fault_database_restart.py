"""Fault: PostgreSQL stopped and started for several seconds while the service works.

A real service process ingests a lab/v1 stream from a real Mosquitto and takes
signed sales from a shop while its database stops for a few seconds and comes
back. Afterwards every event and every sale is recorded exactly once, to the
cent; while the database was away /readyz said so and webhooks were 503 with
Retry-After (the shop retried), never any other 5xx.
"""

from __future__ import annotations

import threading
import time

import httpx2

from app.db import upgrade_database
from tests.ingest.conftest import Publisher, eventually
from tests.reliability import fault_support as fs

EVENTS = 300
SALES = 40
OUTAGE_S = 4.0


def test_a_database_restart_under_load_loses_and_repeats_nothing(
    pg_cluster, broker, service_process
):
    pg_cluster.start()
    upgrade_database(pg_cluster.url)
    machine_id = fs.set_up_lab(pg_cluster.url)
    service = service_process(
        on=pg_cluster.url,
        mqtt_port=str(broker.port),
        mqtt_client_id="fault-restart",
        **fs.SERVICE_SETTINGS,
    )
    publisher = Publisher(broker.port)
    fs.wait_until_listening(publisher, pg_cluster.url)
    messages = fs.stream(EVENTS)
    shop = fs.Shop(service.url)
    failures: list[BaseException] = []
    sent = threading.Event()

    def send_stream() -> None:
        try:
            for topic, payload in messages:
                publisher.send(topic, payload)
                time.sleep(0.02)  # a steady stream, spanning the outage
        except BaseException as exc:  # reported by the test below
            failures.append(exc)
        finally:
            sent.set()

    def sell() -> None:
        try:
            for number in range(SALES):
                shop.deliver(fs.sale_event(number))
                time.sleep(0.1)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send_stream), threading.Thread(target=sell)]
    for thread in threads:
        thread.start()
    eventually(lambda: fs.recorded_count(pg_cluster.url) > EVENTS // 5, timeout=60)
    pg_cluster.stop()
    stopped_at = time.monotonic()
    down = eventually(
        lambda: (r := httpx2.get(f"{service.url}/readyz", timeout=30)).status_code == 503 and r,
        timeout=30,
    )
    assert down.json()["database"] == "unreachable"
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))  # the outage itself
    pg_cluster.start()
    for thread in threads:
        thread.join(180)
    publisher.close()
    assert not failures, failures
    eventually(lambda: fs.recorded_count(pg_cluster.url) >= EVENTS + 1, timeout=90)
    eventually(
        lambda: httpx2.get(f"{service.url}/readyz", timeout=30).status_code == 200, timeout=30
    )

    with fs.database(pg_cluster.url) as engine:
        ids = fs.event_ids(engine)
        assert len(ids) == len(set(ids)) == EVENTS + 1
        assert sorted(ids) == sorted([fs.PROBE_ID, *(p["id"] for _t, p in messages)])
        (run,) = fs.runs(engine, machine_id)
        assert run.end_reason == "finished" and run.busy_s == EVENTS
        assert sorted(fs.sales(engine)) == sorted(fs.sent_sales(SALES))
    assert set(shop.statuses) <= {200, 503}, shop.statuses
    assert 503 in shop.statuses  # the outage was met, and answered as it should be
    assert shop.missing_retry_after == 0
    log = service.log_path.read_text()
    assert "unhandled error" not in log
