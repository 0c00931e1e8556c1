"""Fault: a serial device unplugged mid-stream and plugged back in, twice.

The service opens a stable name (a symlink, as udev's /dev/serial/by-id names
are) that points at a real pty. Unplugging closes the pty and removes the
name; plugging in makes a new pty under the same name. The service notices,
reopens the port by itself, and every line the devices sent while connected is
recorded exactly once: each badge scan, and a Marlin print that started before
an unplug and finished after it is one run.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.ingest.worker import WorkerConfig
from app.lab.activity import DeviceEvent, MachineRun
from app.main import create_app
from tests import factories
from tests.ingest.conftest import eventually
from tests.serial_fakes import FakeMarlin, PtyDevice

SCANS_PER_CONNECTION = 8
PLUGS = 3  # plugged in, unplugged and plugged in again, twice


@pytest.fixture
def service(settings, engine):
    app = create_app(settings, WorkerConfig(refresh_every_s=0.3, sweep_every_s=0.5))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


class SdPrinter(FakeMarlin):
    """A Marlin printing from its SD card (a USB unplug does not stop it); quiet once closed."""

    def __init__(self) -> None:
        super().__init__()
        self.position = 2500

    def write(self, data: bytes, rng: random.Random | None = None) -> None:
        with contextlib.suppress(OSError):  # its answering thread may outlive the unplug
            super().write(data, rng)


class Socket:
    """A stable port name and the device currently behind it (None while unplugged)."""

    def __init__(self, path: Path, make: type[PtyDevice]) -> None:
        self.path = path
        self.make = make
        self.device: PtyDevice | None = None

    def plug(self) -> PtyDevice:
        self.device = self.make()
        self.path.symlink_to(self.device.path)
        return self.device

    def unplug(self) -> None:
        assert self.device is not None
        self.path.unlink()
        self.device.close()
        self.device = None


def _port(client: TestClient, kind: str, row_id: int):
    return client.app.state.ingest.ports.get((kind, row_id))


def _connected(client: TestClient, kind: str, row_id: int) -> bool:
    client.app.state.ingest.refresh()
    port = _port(client, kind, row_id)
    return port is not None and port.connected


def _reader_events(engine, reader_id: int) -> list[str]:
    with Session(engine) as db:
        rows = db.exec(select(DeviceEvent.card_id).where(DeviceEvent.reader_id == reader_id))
        return [str(card) for card in rows.all()]


def _wait_for_scans(engine, reader_id: int, count: int) -> None:
    eventually(lambda: len(_reader_events(engine, reader_id)) == count)


def test_unplugged_and_replugged_ports_are_reopened_and_lose_nothing(
    service, admin, engine, tmp_path
):
    client = service
    reader_socket = Socket(tmp_path / "door-reader", PtyDevice)
    printer_socket = Socket(tmp_path / "prusa", SdPrinter)
    reader_socket.plug()
    printer_socket.plug()
    reader = factories.reader(
        client, admin, name="door", protocol="wedge", address=str(reader_socket.path)
    )
    printer = factories.machine(
        client, admin, name="Prusa", adapter="marlin", address=f"{printer_socket.path}@115200"
    )
    cards = [f"{7_000_000 + n:010d}" for n in range(SCANS_PER_CONNECTION * PLUGS)]
    for card in cards:
        maker = factories.contributor(client, admin)
        factories.badge(client, admin, maker["id"], card)
    sent: list[str] = []
    try:
        for plug in range(PLUGS):
            eventually(lambda: _connected(client, "reader", reader["id"]), timeout=60)
            eventually(lambda: _connected(client, "machine", printer["id"]), timeout=60)
            assert reader_socket.device is not None and printer_socket.device is not None
            batch = cards[plug * SCANS_PER_CONNECTION : (plug + 1) * SCANS_PER_CONNECTION]
            reader_socket.device.write(b"".join(card.encode() + b"\r\n" for card in batch))
            sent += batch
            _wait_for_scans(engine, reader["id"], len(sent))
            if plug == 0:
                printer_socket.device.write(b"//action:start\n")
            if plug == PLUGS - 1:
                assert isinstance(printer_socket.device, SdPrinter)
                printer_socket.device.position = None
                printer_socket.device.write(b"Done printing file\n")
                break
            eventually(
                lambda: (
                    client.get(f"/api/v1/machines/{printer['id']}/state", headers=admin).json()[
                        "state"
                    ]
                    == "running"
                )
            )
            reader_socket.unplug()
            printer_socket.unplug()
            eventually(lambda: not _port(client, "reader", reader["id"]).connected)
            eventually(lambda: not _port(client, "machine", printer["id"]).connected)
            reader_socket.plug()
            printer_socket.plug()
        with Session(engine) as db:
            eventually(
                lambda: db.exec(
                    select(MachineRun).where(
                        MachineRun.machine_id == printer["id"],
                        MachineRun.ended_at.is_not(None),  # type: ignore[union-attr]
                    )
                ).all()
            )
            runs = db.exec(select(MachineRun).where(MachineRun.machine_id == printer["id"])).all()
    finally:
        for socket in (reader_socket, printer_socket):
            if socket.device is not None:
                socket.device.close()
    assert sorted(_reader_events(engine, reader["id"])) == sorted(sent)
    assert len(sent) == SCANS_PER_CONNECTION * PLUGS
    (run,) = runs
    assert run.end_reason == "finished"
    sessions = client.get("/api/v1/sessions?limit=100", headers=admin).json()["items"]
    assert len(sessions) == len(cards)
