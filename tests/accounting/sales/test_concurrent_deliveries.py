"""Twenty concurrent deliveries of one event, over real HTTP, make exactly one sale."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2

from app.main import create_app
from tests.shops import body_of, stripe_checkout, stripe_headers
from tests.threaded_server import ThreadedServer


def test_twenty_concurrent_deliveries_make_one_sale(money_lab, shop_settings):
    server = ThreadedServer(create_app(shop_settings))
    port = server.port
    try:
        body = body_of(
            stripe_checkout(
                "evt_many", "cs_many", [{"sku": "BOARD-R1", "quantity": 1, "amount": 4321}]
            )
        )
        headers = stripe_headers(body)
        barrier = threading.Barrier(20)

        def deliver(_n: int) -> tuple[int, list[str]]:
            barrier.wait()
            response = httpx2.post(
                f"http://127.0.0.1:{port}/webhooks/stripe",
                content=body,
                headers=headers,
                timeout=30,
            )
            return response.status_code, response.json().get("outcomes", [])

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(deliver, range(20)))
    finally:
        server.stop(10)
    assert all(status == 200 for status, _ in results), results
    outcomes = [outcome for _, (outcome,) in results]
    assert outcomes.count("sale_recorded") == 1, outcomes
    assert set(outcomes) <= {"sale_recorded", "duplicate"}
    sales = money_lab.client.get("/api/v1/sales", headers=money_lab.admin).json()
    assert sales["total"] == 1
    assert sum(money_lab.balances("EUR").values()) == 4321
