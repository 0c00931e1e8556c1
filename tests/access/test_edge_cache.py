"""The bridge keeps the induction list: it admits from its cache with LabLedger gone, and the
scans it relayed meanwhile are counted once when LabLedger returns."""

from __future__ import annotations

import sqlite3
import time

import pytest

from app.api.keys import Role
from app.main import create_app
from tests import factories
from tests.access.test_interlock import QUICK, FakeTasmota, Listener
from tests.bridge.support import Pty, running_agent, wait_port_open, write_config
from tests.broker import free_port
from tests.ingest.conftest import Publisher, eventually, service_settings
from tests.threaded_server import ThreadedServer


class Server:
    """LabLedger served over real HTTP in a thread, with ingest on the test broker."""

    def __init__(self, settings, port):
        self.served = ThreadedServer(create_app(settings, QUICK), port)
        self.port = self.served.port

    def stop(self):
        self.served.stop()


@pytest.fixture
def ptys():
    made = []
    yield made
    for pty in made:
        pty.close()


def test_the_bridge_admits_from_its_cache_while_labledger_is_gone_and_nothing_counts_twice(
    tmp_path, settings, broker, engine, client, admin, key_for, ptys
):
    machine = factories.machine(
        client,
        admin,
        name="Laser",
        kind="laser",
        adapter="lab",
        address="laser",
        requires_induction=True,
        interlock="tasmota",
        interlock_address="plug-edge",
    )
    factories.reader(client, admin, name="bench", machine_id=machine["id"])
    ada = factories.contributor(client, admin, name="Ada")
    bob = factories.contributor(client, admin, name="Bob")
    tess = factories.contributor(client, admin, name="Tess")
    factories.badge(client, admin, ada["id"], "0012771493")
    factories.badge(client, admin, bob["id"], "0000000042")
    for path, body in (
        ("trainers", {"contributor_id": tess["id"], "machine_id": machine["id"]}),
        (
            "inductions",
            {
                "contributor_id": ada["id"],
                "machine_id": machine["id"],
                "trainer_id": tess["id"],
                "granted_at": "2026-01-01T00:00:00Z",
            },
        ),
    ):
        assert client.post(f"/api/v1/{path}", json=body, headers=admin).status_code == 201
    device_key = key_for(Role.DEVICE)["Authorization"].removeprefix("Bearer ")

    live = service_settings(settings, broker.port, "svc-edge")
    port = free_port()
    server = Server(live, port)
    pty = Pty()
    ptys.append(pty)
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "bench", "port": pty.path}],
    )
    with config.open("a") as handle:
        handle.write(
            f'[access]\nserver = "http://127.0.0.1:{port}"\napi_key = "{device_key}"\n'
            "refresh_s = 1\n"
        )
    plug = FakeTasmota(broker.port, "plug-edge")
    listener = Listener(broker.port)
    try:
        with running_agent(config) as agent:
            wait_port_open(agent, "bench")
            eventually(lambda: agent.cache.version is not None)
            eventually(agent.publisher.server_online)
            server.stop()  # LabLedger goes away; the broker stays

            eventually(lambda: not agent.publisher.server_online())
            pty.write(b"0000000042\r\n")
            eventually(lambda: listener.messages)
            pty.write(b"0012771493\r\n")
            eventually(lambda: plug.words() == ["ON"])
            replies = eventually(lambda: len(listener.messages) >= 2 and listener.messages)
            bodies = [body for _topic, body in replies]
            assert [(b["allowed"], b["reason"], b["source"]) for b in bodies] == [
                (False, "not_inducted", "bridge"),
                (True, None, "bridge"),
            ]
            assert {topic for topic, _b in replies} == {"lab/v1/badge/bench/reply"}

            server = Server(live, port)  # back, with the scans the broker kept for it
            listed = lambda path: client.get(f"/api/v1/{path}", headers=admin).json()  # noqa: E731
            eventually(lambda: listed("sessions")["total"] == 1)
            eventually(lambda: listed("denied-scans")["total"] == 1)
            eventually(
                lambda: (
                    (listed(f"machines/{machine['id']}/power")["last_command"] or {}).get("status")
                    == "confirmed"
                )
            )

            # The bridge's outbox sent each scan; sending them all again changes nothing.
            with sqlite3.connect(agent.config.outbox_path) as db:
                rows = db.execute(
                    "SELECT topic, payload FROM outbox WHERE topic LIKE 'lab/v1/badge/%'"
                ).fetchall()
            assert len(rows) == 2
            again = Publisher(broker.port)
            for topic, payload in rows:
                again.send(topic, bytes(payload))
            again.close()
            time.sleep(1.5)
            assert listed("sessions")["total"] == 1
            assert listed("denied-scans")["total"] == 1
            (session,) = listed("sessions")["items"]
            assert session["contributor_id"] == ada["id"] and session["closed_at"] is None
            assert plug.words() == ["ON", "ON"]  # the bridge's, then LabLedger's own
    finally:
        server.stop()
        plug.close()
        listener.close()


def test_the_bridge_access_table_is_checked_naming_its_key(tmp_path):
    from labbridge.config import ConfigError, parse_config

    base = {
        "bridge": {"id": "pi", "outbox": "outbox.sqlite3"},
        "broker": {"host": "broker.lab"},
        "serial": [{"kind": "reader", "protocol": "wedge", "name": "bench", "port": "/dev/x"}],
    }
    config = parse_config(
        {**base, "access": {"server": "https://ll.lab", "api_key": "llk_secret"}}, tmp_path
    )
    assert config.access is not None and config.access.refresh_s == 300
    assert "llk_secret" not in repr(config.access)
    for table, message in (
        ({"server": "ftp://ll.lab", "api_key": "k"}, "access.server: must be an http"),
        ({"server": "https://ll.lab"}, "access.api_key: is required"),
        ({"server": "https://ll.lab", "api_key": "k", "refresh_s": 0}, "access.refresh_s"),
        ({"server": "https://ll.lab", "api_key": "k", "colour": 1}, "access.colour: unknown"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config({**base, "access": table}, tmp_path)
