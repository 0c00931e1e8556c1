"""A machine or reader the API accepts can be listened to; what still cannot is visible."""

from __future__ import annotations

import logging
import re

import pytest
from sqlmodel import Session

from app.lab.models import Machine
from tests import factories
from tests.ingest.conftest import eventually

TASMOTA = {"name": "Laser", "kind": "laser", "adapter": "tasmota", "address": "laser"}


def _refused(response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in error["message"] and error["details"]["field"] == field


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({}, "running_threshold_w"),
        ({"running_threshold_w": 200, "run_start_after_s": 0}, "run_start_after_s"),
        ({"running_threshold_w": 200, "run_stop_after_s": 0}, "run_stop_after_s"),
        ({"running_threshold_w": 200, "address": "tele/+"}, "address"),
    ],
)
def test_a_power_machine_that_could_not_be_tracked_is_refused(client, admin, extra, field):
    _refused(client.post("/api/v1/machines", json={**TASMOTA, **extra}, headers=admin), field)


def test_changes_that_would_stop_tracking_are_refused(client, admin):
    laser = factories.machine(client, admin, **TASMOTA, running_threshold_w=200)
    path = f"/api/v1/machines/{laser['id']}"
    _refused(
        client.patch(path, json={"running_threshold_w": None}, headers=admin), "running_threshold_w"
    )
    _refused(client.patch(path, json={"run_start_after_s": 0}, headers=admin), "run_start_after_s")
    bambu = factories.machine(client, admin)
    _refused(
        client.patch(f"/api/v1/machines/{bambu['id']}", json={"adapter": "shelly"}, headers=admin),
        "running_threshold_w",
    )
    _refused(
        client.patch(f"/api/v1/machines/{bambu['id']}", json={"address": "a/b"}, headers=admin),
        "address",
    )
    assert client.get(path, headers=admin).json()["routing_problem"] is None


def test_a_reader_that_could_not_be_listened_to_is_refused(client, admin):
    serial = {"name": "bench", "protocol": "rdm6300"}
    _refused(client.post("/api/v1/readers", json=serial, headers=admin), "address")
    _refused(
        client.post("/api/v1/readers", json={"name": "door", "address": "a/b"}, headers=admin),
        "address",
    )
    reader = factories.reader(client, admin, name="door")
    _refused(
        client.patch(f"/api/v1/readers/{reader['id']}", json={"protocol": "wedge"}, headers=admin),
        "address",
    )


def test_a_stored_machine_that_cannot_be_routed_says_so_in_its_record_the_log_and_metrics(
    client, admin, engine
):
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger("app.ingest.routing").addHandler(handler)
    laser = factories.machine(client, admin, **TASMOTA, running_threshold_w=200)
    with Session(engine) as db:  # a row from before validation, or edited by hand
        row = db.get(Machine, laser["id"])
        row.run_start_after_s = 0
        db.add(row)
        db.commit()
    ingest = client.app.state.ingest
    before = ingest.worker.refreshes
    ingest.refresh()  # the rebuild that follows the change logs the problem
    eventually(lambda: ingest.worker.refreshes > before)
    record = client.get(f"/api/v1/machines/{laser['id']}", headers=admin).json()
    assert "run_start_after_s" in record["routing_problem"]
    listed = client.get("/api/v1/machines", headers=admin).json()["items"]
    assert listed[0]["routing_problem"] == record["routing_problem"]
    logging.getLogger("app.ingest.routing").removeHandler(handler)
    assert any(f"machine {laser['id']}" in r.getMessage() for r in seen)
    gauge = re.search(
        r'labledger_ingest_routing_problems\{kind="machine"\} (\S+)', client.get("/metrics").text
    )
    assert gauge is not None and float(gauge.group(1)) >= 1


def test_an_event_for_a_machine_or_reader_that_is_gone_is_kept_as_a_reject(client, admin, engine):
    from datetime import UTC, datetime

    from app.lab.recorder import BatchOutcome, record_event
    from app.lab.sessions import ScanRules
    from devices.events import BadgeScan, MachineState, RunState

    now = datetime.now(UTC)
    outcome = BatchOutcome()
    with Session(engine) as db:
        for event in (
            MachineState("999999", RunState.RUNNING, now, "gone-1"),
            BadgeScan("999998", "0012771493", now, "gone-2"),
        ):
            record_event(db, event, "lab/v1/gone", ScanRules(), outcome)
        db.commit()
    assert outcome.unroutable == 2 and outcome.applied == 0
    rejects = client.get("/api/v1/rejects", headers=admin).json()["items"]
    assert {r["source"] for r in rejects} == {"lab/v1/gone"} and len(rejects) == 2
