"""Messages without an id or a time: a redelivery is recognised within a window, a new scan is new."""

from __future__ import annotations

import time
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.ingest.worker import WorkerConfig
from app.lab.activity import DeviceEvent
from app.lab.sessions import ScanRules
from app.main import create_app
from tests import factories
from tests.ingest.conftest import eventually, service_settings
from tests.ingest.test_mqtt_ingest import wait_subscribed

ADA = "0012771493"
WINDOW_S = 1.0
_ids = count(1)


@pytest.fixture
def windowed(settings, broker, engine):
    """The service with a short redelivery window and no debounce, on the test broker."""
    rules = ScanRules(debounce_s=0, redelivery_window_s=WINDOW_S)
    config = WorkerConfig(refresh_every_s=0.5, sweep_every_s=0.5, rules=rules)
    app = create_app(service_settings(settings, broker.port, f"win-{next(_ids)}"), config)
    with TestClient(app, raise_server_exceptions=False) as client:
        eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected")
        yield client


def _events(engine) -> int:
    with Session(engine) as db:
        return int(db.exec(select(func.count()).select_from(DeviceEvent)).one())


def test_card_only_scans_open_and_close_while_a_quick_copy_is_one_scan(
    windowed, admin, publisher, engine
):
    client = windowed
    printer = factories.machine(client, admin, name="P", adapter="lab", address="p1")
    factories.reader(client, admin, name="door-p1", machine_id=printer["id"])
    ada = factories.contributor(client, admin, name="Ada")
    factories.badge(client, admin, ada["id"], ADA)
    wait_subscribed(client)

    publisher.send("lab/v1/badge/door-p1", {"badge": ADA})
    publisher.send("lab/v1/badge/door-p1", {"badge": ADA})  # the publisher's retry: a copy
    eventually(lambda: _events(engine) == 1)
    time.sleep(WINDOW_S + 0.5)
    assert _events(engine) == 1
    publisher.send("lab/v1/badge/door-p1", {"badge": ADA})  # a new scan, same bytes
    session = eventually(
        lambda: [
            s
            for s in client.get("/api/v1/sessions", headers=admin).json()["items"]
            if s["closed_at"]
        ]
    )
    assert session[0]["close_reason"] == "badge_out"
    assert _events(engine) == 2


def test_http_card_only_scans_are_new_scans_past_the_window(settings, engine, key_for):
    from app.api.keys import Role

    app = create_app(
        settings.model_copy(update={"redelivery_window_s": WINDOW_S, "badge_debounce_s": 0})
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = key_for(Role.ADMIN)
        device = key_for(Role.DEVICE)
        printer = factories.machine(client, admin, name="P", adapter="lab", address="p1")
        factories.reader(client, admin, name="r1", machine_id=printer["id"])
        ada = factories.contributor(client, admin, name="Ada")
        factories.badge(client, admin, ada["id"], ADA)
        body = {"reader": "r1", "badge": ADA}
        first = client.post("/api/v1/events/badge", json=body, headers=device).json()
        copy = client.post("/api/v1/events/badge", json=body, headers=device).json()
        assert first["outcome"] == "opened" and copy["recorded"] is False
        time.sleep(WINDOW_S + 0.3)
        again = client.post("/api/v1/events/badge", json=body, headers=device).json()
        assert again["recorded"] is True and again["outcome"] == "closed"
