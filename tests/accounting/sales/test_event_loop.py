"""A delivery being applied never stalls the event loop: other requests are answered meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text

from app.accounting.ledger.postings import APPEND_LOCK_KEY
from app.api.webhooks import routes
from app.main import create_app
from tests.shops import body_of, stripe_checkout, stripe_headers


async def _call(app: Any, method: str, path: str, body: bytes = b"", headers=None) -> int:
    """One request straight through the ASGI interface; its status."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "root_path": "",
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


@contextmanager
def _database_held(engine: Engine) -> Iterator[None]:
    """Make every delivery wait: SQLite's writer lock, or PostgreSQL's ledger append lock."""
    if engine.dialect.name == "sqlite":
        with routes._SQLITE_WRITER:
            yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": APPEND_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": APPEND_LOCK_KEY})
            connection.commit()


def test_healthz_answers_while_a_sale_waits_for_the_database(shop_settings, engine):
    app = create_app(shop_settings)
    body = body_of(stripe_checkout("evt_loop", "cs_loop", [{"sku": "X", "amount": 100}]))

    async def scenario() -> None:
        # Hold the database: the delivery now blocks in its worker thread.
        with _database_held(engine):
            sale = asyncio.create_task(
                _call(app, "POST", "/webhooks/stripe", body, stripe_headers(body))
            )
            await asyncio.sleep(0.3)
            assert not sale.done()
            assert await asyncio.wait_for(_call(app, "GET", "/healthz"), timeout=2) == 200
        assert await asyncio.wait_for(sale, timeout=30) == 200

    asyncio.run(scenario())
