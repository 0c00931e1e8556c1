"""A lab/v1 machine or reader is named by its name or its address, over HTTP and over MQTT."""

from __future__ import annotations

from app.api.keys import Role
from tests import factories
from tests.ingest.conftest import eventually
from tests.ingest.test_mqtt_ingest import runs, wait_subscribed

ADA = "0012771493"


def test_http_machine_and_badge_events_accept_the_address_as_well_as_the_name(
    client, admin, key_for
):
    device = key_for(Role.DEVICE)
    printer = factories.machine(client, admin, name="Printer B", adapter="lab", address="pb-01")
    factories.reader(client, admin, name="Reader B", address="rb-01", machine_id=printer["id"])
    ada = factories.contributor(client, admin, name="Ada")
    factories.badge(client, admin, ada["id"], ADA)
    scan = client.post(
        "/api/v1/events/badge", json={"reader": "rb-01", "badge": ADA}, headers=device
    )
    assert scan.status_code == 200 and scan.json()["outcome"] == "opened"
    for machine, state in (("pb-01", "running"), ("Printer B", "finished")):
        response = client.post(
            "/api/v1/events/machine", json={"machine": machine, "state": state}, headers=device
        )
        assert response.status_code == 200, response.text
    (run,) = runs(client, admin)
    assert run["end_reason"] == "finished" and run["operator_id"] == ada["id"]


def test_mqtt_machine_and_badge_topics_accept_the_name_as_well_as_the_address(
    live, admin, publisher
):
    client = live
    printer = factories.machine(client, admin, name="printer-b", adapter="lab", address="pb-01")
    factories.reader(client, admin, name="reader-b", address="rb-01", machine_id=printer["id"])
    ada = factories.contributor(client, admin, name="Ada")
    factories.badge(client, admin, ada["id"], ADA)
    wait_subscribed(client)
    publisher.send("lab/v1/badge/reader-b", {"badge": ADA, "id": "s1"})
    eventually(lambda: client.get("/api/v1/sessions", headers=admin).json()["items"])
    publisher.send("lab/v1/machine/printer-b/state", {"state": "running", "id": "m1"})
    publisher.send("lab/v1/machine/pb-01/state", {"state": "finished", "id": "m2"})
    (run,) = eventually(lambda: [r for r in runs(client, admin) if r["ended_at"]])
    assert run["end_reason"] == "finished" and run["operator_id"] == ada["id"]


def test_a_name_that_is_another_machines_address_is_refused(client, admin):
    factories.machine(client, admin, name="Printer B", adapter="lab", address="pb-01")
    clash = client.post(
        "/api/v1/machines",
        json={"name": "pb-01", "kind": "printer", "adapter": "lab", "address": "pc-01"},
        headers=admin,
    )
    assert clash.status_code == 409 and "pb-01" in clash.json()["error"]["message"]
    clash = client.post(
        "/api/v1/machines",
        json={"name": "Printer C", "kind": "printer", "adapter": "lab", "address": "Printer B"},
        headers=admin,
    )
    assert clash.status_code == 409
