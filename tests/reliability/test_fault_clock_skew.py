"""Fault: device clocks hours or minutes off.

The rule (app.ingest.routing.within_clock; docs/devices.md, "Device clocks"):
an event stamped more than MAX_AHEAD_S after it was received is recorded at its
receive time and counted in labledger_ingest_clock_skewed_total; an event stamped in
the past keeps its device time (a replayed outbox is indistinguishable from a
clock that is behind), so durations measured on one clock stay exact. Checked
through a real Mosquitto for lab/v1 and OctoPrint, and over HTTP.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.ingest.routing import MAX_AHEAD_S
from app.lab.activity import DeviceEvent, MachineRun
from app.main import create_app
from tests import factories
from tests.ingest.conftest import FAST, Publisher, eventually, service_settings

_ids = itertools.count(1)
STEPS = 20  # events per device, a minute apart on the device's clock


@pytest.fixture
def live(settings, broker, engine) -> Iterator[TestClient]:
    """The service with ingest reading the suite's broker."""
    app = create_app(service_settings(settings, broker.port, f"skew-{next(_ids)}"), FAST)
    with TestClient(app, raise_server_exceptions=False) as client:
        eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected")
        yield client


def _skewed_total(client: TestClient) -> float:
    text = client.get("/metrics").text
    match = re.search(r"^labledger_ingest_clock_skewed_total (\S+)$", text, re.MULTILINE)
    assert match, "the skew counter is exported"
    return float(match.group(1))


def _events(engine, machine_id: int) -> list[DeviceEvent]:
    with Session(engine) as db:
        return list(
            db.exec(
                select(DeviceEvent)
                .where(DeviceEvent.machine_id == machine_id)
                .order_by(DeviceEvent.id)  # type: ignore[arg-type]
            ).all()
        )


def _run(engine, machine_id: int) -> MachineRun:
    with Session(engine) as db:
        (run,) = db.exec(select(MachineRun).where(MachineRun.machine_id == machine_id)).all()
        return run


def _lab_stream(address: str, start: datetime) -> list[tuple[str, dict[str, object]]]:
    topic = f"lab/v1/machine/{address}/state"
    states = ["running"] * (STEPS - 1) + ["finished"]
    return [
        (
            topic,
            {"state": s, "id": f"{address}-{i}", "at": (start + timedelta(minutes=i)).isoformat()},
        )
        for i, s in enumerate(states)
    ]


def _octoprint_stream(base: str, start: datetime) -> list[tuple[str, bytes]]:
    kinds = ["PrintStarted"] + ["PrintPaused", "PrintResumed"] * ((STEPS - 2) // 2) + ["PrintDone"]
    return [
        (
            f"{base}/event/{kind}",
            json.dumps(
                {"_timestamp": int((start + timedelta(minutes=i)).timestamp()), "_event": kind}
            ).encode(),
        )
        for i, kind in enumerate(kinds)
    ]


def _send_when_listened(client, publisher, engine, machine_id, messages) -> None:
    """Send the first message until it is recorded (so the topic is read), then the rest."""
    first_topic, first_body = messages[0]
    eventually(
        lambda: publisher.send(first_topic, first_body) or _events(engine, machine_id), timeout=30
    )
    for topic, body in messages[1:]:
        publisher.send(topic, body)
    eventually(lambda: len(_events(engine, machine_id)) == len(messages), timeout=30)


def test_events_from_clocks_ahead_are_recorded_at_receipt_and_counted(live, admin, broker, engine):
    client = live
    lab = factories.machine(client, admin, name="Ahead", adapter="lab", address="ahead")
    octo = factories.machine(client, admin, name="OctoAhead", adapter="octoprint", address="oA")
    before = _skewed_total(client)
    sent_from = datetime.now(UTC)
    publisher = Publisher(broker.port)
    try:
        ahead_2h = datetime.now(UTC) + timedelta(hours=2)
        _send_when_listened(client, publisher, engine, lab["id"], _lab_stream("ahead", ahead_2h))
        ahead_10m = datetime.now(UTC) + timedelta(minutes=10)
        _send_when_listened(
            client, publisher, engine, octo["id"], _octoprint_stream("oA", ahead_10m)
        )
    finally:
        publisher.close()
    http_ahead = datetime.now(UTC) + timedelta(hours=1)
    http = factories.machine(client, admin, name="HttpAhead", adapter="lab", address="http-ahead")
    for i, state in enumerate(["running", "finished"]):
        response = client.post(
            "/api/v1/events/machine",
            json={
                "machine": "http-ahead",
                "state": state,
                "id": f"http-{i}",
                "at": (http_ahead + timedelta(minutes=i)).isoformat(),
            },
            headers=admin,
        )
        assert response.status_code == 200, response.text
    sent_until = datetime.now(UTC)

    recorded = [
        *_events(engine, lab["id"]),
        *_events(engine, octo["id"]),
        *_events(engine, http["id"]),
    ]
    assert len(recorded) == 2 * STEPS + 2
    for event in recorded:
        assert sent_from <= event.at <= sent_until, (event.event_id, event.at)
        assert event.at <= event.received_at + timedelta(seconds=MAX_AHEAD_S)
    # Every probe that was sent again before the topic was read was the same event, once.
    assert _skewed_total(client) - before >= 2 * STEPS + 2
    for machine in (lab, octo, http):
        run = _run(engine, machine["id"])
        assert run.ended_at is not None and run.ended_at <= sent_until


def test_events_from_clocks_behind_keep_their_times_and_exact_durations(
    live, admin, broker, engine
):
    client = live
    lab = factories.machine(client, admin, name="Behind", adapter="lab", address="behind")
    octo = factories.machine(client, admin, name="OctoBehind", adapter="octoprint", address="oB")
    before = _skewed_total(client)
    behind_3h = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    behind_40m = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    lab_messages = _lab_stream("behind", behind_3h)
    publisher = Publisher(broker.port)
    try:
        _send_when_listened(client, publisher, engine, lab["id"], lab_messages)
        _send_when_listened(
            client, publisher, engine, octo["id"], _octoprint_stream("oB", behind_40m)
        )
    finally:
        publisher.close()

    lab_events = _events(engine, lab["id"])
    assert [e.at for e in lab_events] == [behind_3h + timedelta(minutes=i) for i in range(STEPS)]
    octo_events = _events(engine, octo["id"])
    assert [e.at for e in octo_events] == [behind_40m + timedelta(minutes=i) for i in range(STEPS)]
    assert _run(engine, lab["id"]).busy_s == (STEPS - 1) * 60
    octo_run = _run(engine, octo["id"])
    assert octo_run.started_at == behind_40m
    assert octo_run.ended_at == behind_40m + timedelta(minutes=STEPS - 1)
    assert _skewed_total(client) == before
