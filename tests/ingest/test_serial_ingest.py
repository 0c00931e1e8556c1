"""A badge on a serial RFID reader and a Marlin printer on a serial port, over real ptys."""

from __future__ import annotations

import random
import time

import pytest
from fastapi.testclient import TestClient

from app.ingest.worker import WorkerConfig
from app.main import create_app
from tests import factories
from tests.ingest.conftest import eventually
from tests.serial_fakes import FakeMarlin, PtyDevice, rdm6300_frame


@pytest.fixture
def service(settings, engine):
    app = create_app(settings, WorkerConfig(refresh_every_s=0.3, sweep_every_s=0.5))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def wait_port_open(client, kind, row_id):
    ingest = client.app.state.ingest
    ingest.refresh()
    eventually(
        lambda: (reader := ingest.ports.get((kind, row_id))) is not None and reader.connected
    )


def test_badge_on_a_pty_reader_and_a_marlin_print_become_an_attributed_run(service, admin):
    client = service
    rng = random.Random(1234)
    reader_port, printer = PtyDevice(), FakeMarlin()
    try:
        machine = factories.machine(
            client, admin, name="Prusa", adapter="marlin", address=f"{printer.path}@115200"
        )
        reader = factories.reader(
            client,
            admin,
            name="prusa-reader",
            protocol="rdm6300",
            address=reader_port.path,
            machine_id=machine["id"],
        )
        ada = factories.contributor(client, admin, name="Ada")
        factories.badge(client, admin, ada["id"], "0012771493")
        wait_port_open(client, "reader", reader["id"])
        wait_port_open(client, "machine", machine["id"])

        noise = b"\x00\xffgarbage\x02ZZ"
        frame = rdm6300_frame("0F00C2E0A5")
        reader_port.write(noise + frame + frame + frame, rng)  # a held card repeats: debounced
        session = eventually(lambda: client.get("/api/v1/sessions", headers=admin).json()["items"])
        assert len(session) == 1 and session[0]["contributor_id"] == ada["id"]

        printer.write(b"//action:start\n", rng)
        printer.position = 2500
        eventually(
            lambda: (
                client.get(f"/api/v1/machines/{machine['id']}/state", headers=admin).json()["state"]
                == "running"
            )
        )
        eventually(lambda: b"M27" in b"".join(printer.polls))
        time.sleep(0.5)
        printer.position = None
        printer.write(b"echo:busy: processing\nDone printing file\n", rng)
        runs = eventually(
            lambda: [
                r
                for r in client.get("/api/v1/runs", headers=admin).json()["items"]
                if r["ended_at"]
            ]
        )
        (run,) = runs
        assert run["operator_id"] == ada["id"] and run["end_reason"] == "finished"
        printer.write(b"echo:Print time: 1h 2m 3s\n")
        eventually(
            lambda: client.get(f"/api/v1/runs/{run['id']}", headers=admin).json()["busy_s"] == 3723
        )
        assert any(line.startswith(b"M105") or b"M105" in line for line in printer.polls)
        rejects = client.get("/api/v1/rejects", headers=admin).json()["items"]
        assert any(r["source"] == reader_port.path for r in rejects)
    finally:
        reader_port.close()
        printer.close()


def test_a_port_that_disappears_is_reopened(service, admin):
    client = service
    first = PtyDevice()
    reader = factories.reader(
        client, admin, name="door-reader", protocol="wedge", address=first.path
    )
    ada = factories.contributor(client, admin, name="Ada")
    factories.badge(client, admin, ada["id"], "0012771493")
    wait_port_open(client, "reader", reader["id"])
    ingest = client.app.state.ingest
    first.close()
    eventually(lambda: not ingest.ports[("reader", reader["id"])].connected)
    second = PtyDevice()
    try:
        client.patch(
            f"/api/v1/readers/{reader['id']}", json={"address": second.path}, headers=admin
        )
        wait_port_open(client, "reader", reader["id"])
        second.write(b"0012771493\r\n")
        sessions = eventually(lambda: client.get("/api/v1/sessions", headers=admin).json()["items"])
        assert sessions[0]["machine_id"] is None and sessions[0]["contributor_id"] == ada["id"]
    finally:
        second.close()


def test_lines_of_one_read_are_folded_in_arrival_order(service, admin):
    client = service
    printer = PtyDevice()
    try:
        machine = factories.machine(
            client, admin, name="MK3", adapter="marlin", address=f"{printer.path}@115200"
        )
        wait_port_open(client, "machine", machine["id"])
        printer.write(b"X")  # the reader's first read takes one byte; the stream comes next
        time.sleep(0.3)
        printer.write(
            b"\n//action:start\n//action:pause\n//action:resume\n//action:pause\n"
            b"//action:resume\nDone printing file\n"
        )
        (run,) = eventually(
            lambda: [
                r
                for r in client.get("/api/v1/runs", headers=admin).json()["items"]
                if r["ended_at"]
            ]
        )
        assert run["end_reason"] == "finished" and run["flagged"] is False
        assert run["progress"] == 100
        assert len(client.get("/api/v1/runs", headers=admin).json()["items"]) == 1
    finally:
        printer.close()
