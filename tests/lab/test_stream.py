"""The live stream tells a dashboard which machines changed, over real HTTP."""

from __future__ import annotations

import json
import threading

import httpx2

from app.api.keys import Role
from app.main import create_app
from tests import factories
from tests.ingest.conftest import eventually
from tests.threaded_server import ThreadedServer


def test_stream_announces_a_machine_change(settings, engine, client, admin, key_for):
    printer = factories.machine(client, admin, name="Streamed", adapter="lab", address="streamed")
    device = key_for(Role.DEVICE)
    server = ThreadedServer(create_app(settings))
    port = server.port
    events: list[dict] = []
    try:

        def listen() -> None:
            with httpx2.stream(
                "GET", f"http://127.0.0.1:{port}/api/v1/stream", headers=admin, timeout=20
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                name = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                        if name == "hello":
                            events.append({"hello": True})
                    elif line.startswith("data: ") and name == "change":
                        events.append(json.loads(line.removeprefix("data: ")))
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        eventually(lambda: events)
        posted = httpx2.post(
            f"http://127.0.0.1:{port}/api/v1/events/machine",
            json={"machine": "Streamed", "state": "running"},
            headers=device,
        )
        assert posted.status_code == 200, posted.text
        listener.join(15)
    finally:
        server.stop(10)
    change = events[-1]
    assert change == {"type": "change", "machines": [printer["id"]]}
    unauthorised = client.get("/api/v1/stream")
    assert unauthorised.status_code == 401
