"""Hole 3: a machine's or reader's address cannot make the service connect anywhere.

Before: an operator key could register a Marlin machine at `socket://host:port`
and the service opened a TCP connection there and sent G-code every 2 s.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings, SettingsError, load_settings
from app.ingest.worker import WorkerConfig
from app.lab.activity import MachineStatus
from app.lab.models import COMMONS_FUND_ID, Machine
from app.main import create_app
from tests import factories
from tests.ingest.conftest import eventually


class Listener:
    """A TCP server that records who connects and what they send."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.2)
            with conn:
                while not self._stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    self.received += data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def _service(settings: Settings) -> TestClient:
    return TestClient(
        create_app(settings, WorkerConfig(refresh_every_s=0.3, sweep_every_s=0.5)),
        raise_server_exceptions=False,
    )


@pytest.mark.parametrize(
    "address",
    [
        "socket://127.0.0.1:{port}",
        "rfc2217://127.0.0.1:{port}@115200",
        "SOCKET://localhost:{port}",
        "spy://socket://127.0.0.1:{port}",
        "hwgrep://.*",
    ],
)
def test_network_serial_targets_are_refused_by_default(client, admin, listener, address):
    target = address.format(port=listener.port)
    response = client.post(
        "/api/v1/machines",
        json={"name": "Evil", "kind": "printer", "adapter": "marlin", "address": target},
        headers=admin,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith("address:")
    assert error["details"]["fields"][0]["field"] == "address"
    reader = client.post(
        "/api/v1/readers",
        json={"name": "evil-reader", "protocol": "rdm6300", "address": target},
        headers=admin,
    )
    assert reader.status_code == 422
    assert listener.connections == 0


def test_updates_cannot_smuggle_a_network_target(client, admin, listener):
    target = f"socket://127.0.0.1:{listener.port}"
    # Not even stored as a lab machine's topic (it is no single topic level), so it
    # cannot wait there to be turned into a serial machine later.
    response = client.post(
        "/api/v1/machines",
        json={"name": "sneaky", "adapter": "lab", "address": target},
        headers=admin,
    )
    assert response.status_code == 422
    lab_machine = factories.machine(client, admin, adapter="lab", address="sneaky-lab")
    response = client.patch(
        f"/api/v1/machines/{lab_machine['id']}",
        json={"adapter": "marlin", "address": target},
        headers=admin,
    )
    assert response.status_code == 422
    assert "LABLEDGER_SERIAL_NETWORK_ALLOW" in response.text or "network" in response.text
    serial = factories.machine(client, admin, adapter="marlin", address="/dev/ttyUSB7")
    response = client.patch(
        f"/api/v1/machines/{serial['id']}", json={"address": target}, headers=admin
    )
    assert response.status_code == 422
    reader = factories.reader(client, admin, name="r1", protocol="wedge", address="/dev/ttyACM3")
    response = client.patch(
        f"/api/v1/readers/{reader['id']}", json={"address": None, "name": target}, headers=admin
    )
    assert response.status_code == 422


def test_local_ports_are_accepted(client, admin):
    for address in ("/dev/ttyUSB0@115200", "/dev/serial/by-id/usb-Prusa-if00", "loop://"):
        factories.machine(client, admin, adapter="marlin", address=address)


def test_a_stored_network_target_is_never_opened(settings, engine, listener):
    """A row written before the allow-list existed does not make the service connect."""
    with Session(engine) as db:
        machine = Machine(
            name="Old",
            kind="printer",
            adapter="marlin",
            address=f"socket://127.0.0.1:{listener.port}",
            provider_id=COMMONS_FUND_ID,
        )
        db.add(machine)
        db.flush()
        db.add(MachineStatus(machine_id=machine.id))
        db.commit()
    with _service(settings) as client:
        client.app.state.ingest.refresh()
        time.sleep(2.5)
        assert client.app.state.ingest.ports == {}
    assert listener.connections == 0 and listener.received == b""


def test_an_allowed_host_is_connected_to(settings, engine, admin, listener):
    allowed = settings.model_copy(update={"serial_network_allow": ["127.0.0.1"]})
    with _service(allowed) as client:
        factories.machine(
            client,
            admin,
            adapter="marlin",
            address=f"socket://127.0.0.1:{listener.port}",
        )
        client.app.state.ingest.refresh()
        eventually(lambda: b"M27" in listener.received or b"M105" in listener.received)
    assert listener.connections >= 1


def test_the_allow_list_setting_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("LABLEDGER_SERIAL_NETWORK_ALLOW", "10.0.0.5, moxa-1.lab")
    assert load_settings().serial_network_allow == ["10.0.0.5", "moxa-1.lab"]
    monkeypatch.setenv("LABLEDGER_SERIAL_NETWORK_ALLOW", "bad host/")
    with pytest.raises(SettingsError, match="LABLEDGER_SERIAL_NETWORK_ALLOW"):
        load_settings()
