"""What the fault tests send (a lab/v1 stream, signed sales) and how they count what was recorded.

Every test sends numbered things with ids of its own and then checks the
database row by row: each id recorded exactly once, each amount to the cent.
A shop is played by `Shop`: it retries a delivery until it gets a 2xx, as the
real shops do, and keeps every status it saw, so a test can assert there was
no 5xx but 503 (with Retry-After).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from app.accounting.sales.tables import Sale
from app.api.keys import Role, create_key
from app.lab.activity import DeviceEvent, MachineRun
from app.lab.models import MachineCreate
from app.lab.service import create_machine
from tests.ingest.conftest import Publisher
from tests.shops import SECRETS, body_of, generic_headers

MACHINE_ADDRESS = "fault-p1"
TOPIC = f"lab/v1/machine/{MACHINE_ADDRESS}/state"
PROBE_ID = "probe-0"
SERVICE_SETTINGS = {
    **SECRETS,
    "mqtt_enabled": "true",
    "mqtt_host": "127.0.0.1",
    "unauth_write_burst": "100000",
}


@contextmanager
def database(url: str) -> Iterator[Engine]:
    """An engine that keeps no connection between uses (the server may go away in between)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def set_up_lab(url: str) -> int:
    """The machine the stream is about (its id); the database must be migrated."""
    with database(url) as engine, Session(engine) as db:
        machine = create_machine(
            db,
            MachineCreate(
                name="Fault printer", kind="printer", adapter="lab", address=MACHINE_ADDRESS
            ),
        )
        create_key(db, "fault test", Role.ADMIN)
        assert machine.id is not None
        return machine.id


def stream(count: int, start: datetime | None = None) -> list[tuple[str, dict[str, object]]]:
    """`count` state messages with ids: running ... running, then finished one second later."""
    start = start or datetime.now(UTC) - timedelta(hours=1)
    messages: list[tuple[str, dict[str, object]]] = [
        (
            TOPIC,
            {
                "state": "running",
                "id": f"ev-{i}",
                "at": (start + timedelta(seconds=i)).isoformat(),
                "progress": i * 100 // count,
            },
        )
        for i in range(count - 1)
    ]
    messages.append(
        (
            TOPIC,
            {
                "state": "finished",
                "id": "ev-end",
                "at": (start + timedelta(seconds=count)).isoformat(),
            },
        )
    )
    return messages


def event_ids(engine: Engine) -> list[str]:
    """Every recorded device event id, repeats included."""
    with Session(engine) as db:
        return [str(i) for i in db.execute(select(DeviceEvent.event_id)).scalars()]


def recorded_count(url: str) -> int:
    """How many device events are recorded (0 while the database is away)."""
    try:
        with database(url) as engine, Session(engine) as db:
            return int(db.execute(select(func.count()).select_from(DeviceEvent)).scalar_one())
    except Exception:
        return 0


def runs(engine: Engine, machine_id: int) -> list[MachineRun]:
    """The machine's runs."""
    with Session(engine, expire_on_commit=False) as db:
        return list(
            db.execute(select(MachineRun).where(MachineRun.machine_id == machine_id)).scalars()
        )


def sales(engine: Engine) -> list[tuple[str, int]]:
    """Every recorded sale as (order, gross minor units), repeats included."""
    with Session(engine) as db:
        return [
            (str(order), int(gross))
            for order, gross in db.execute(select(Sale.order_key, Sale.gross_minor))
        ]


def wait_until_listening(publisher: Publisher, url: str, timeout: float = 60.0) -> None:
    """Publish one probe (always the same id) until the service recorded it: it then reads the
    topic for sure, and the probe is recorded once however often it was sent."""
    deadline = time.monotonic() + timeout
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    while time.monotonic() < deadline:
        publisher.send(TOPIC, {"state": "idle", "id": PROBE_ID, "at": at})
        if recorded_count(url) >= 1:
            return
        time.sleep(0.5)
    raise AssertionError(f"the service did not record the probe within {timeout}s")


def sale_event(number: int) -> dict[str, object]:
    """A generic-webhook sale of a known amount (its SKU matches no product: kept unallocated)."""
    return {
        "id": f"sale-{number}",
        "type": "sale",
        "order": f"order-{number}",
        "currency": "EUR",
        "lines": [{"sku": "FAULT-SKU", "quantity": 1, "amount_minor": 1000 + number}],
    }


@dataclass
class Shop:
    """Delivers signed sales to a service, retrying each until a 2xx, noting every answer."""

    base_url: str
    statuses: list[int] = field(default_factory=list)
    missing_retry_after: int = 0
    transport_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, event: dict[str, object], give_up_after: float = 120.0) -> None:
        """Send until accepted; a 503 waits (briefly: the test is in a hurry), as shops do."""
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            body = body_of(event)  # re-signed on each try, with a fresh timestamp
            try:
                response = httpx2.post(
                    f"{self.base_url}/webhooks/generic",
                    content=body,
                    headers=generic_headers(body),
                    timeout=60,
                )
            except httpx2.HTTPError:
                with self._lock:
                    self.transport_errors += 1
                time.sleep(0.5)
                continue
            with self._lock:
                self.statuses.append(response.status_code)
                if response.status_code == 503 and "retry-after" not in response.headers:
                    self.missing_retry_after += 1
            if response.status_code < 300:
                return
            if response.status_code != 503:
                raise AssertionError(f"{response.status_code}: {response.text}")
            time.sleep(0.5)
        raise AssertionError(f"{event['id']} was not accepted within {give_up_after}s")


def sent_sales(count: int) -> list[tuple[str, int]]:
    """What `count` sale events sent, as `sales` reads it back."""
    return [
        (str(e["order"]), sum(int(line["amount_minor"]) for line in e["lines"]))  # type: ignore[attr-defined]
        for e in (sale_event(n) for n in range(count))
    ]
