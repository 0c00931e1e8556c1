"""Real vendor formats over a real broker become the right sessions and runs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, func, select

from app.lab.activity import DeviceEvent
from tests import factories
from tests.ingest.conftest import eventually

ADA = "0012771493"


def wait_subscribed(client):
    """Wait until the service has rebuilt its topics and the broker granted them all."""
    ingest = client.app.state.ingest
    before = ingest.worker.refreshes
    ingest.refresh()
    eventually(lambda: ingest.worker.refreshes > before)
    eventually(lambda: ingest.router.filters and ingest.router.filters <= ingest.link.acknowledged)


def runs(client, admin, **params):
    return client.get("/api/v1/runs", params=params, headers=admin).json()["items"]


def bambu(state: str | None = None, seq: int = 0, **fields):
    report = {"command": "push_status", "sequence_id": str(seq), **fields}
    if state:
        report["gcode_state"] = state
    return {"print": report}


def test_badge_and_bambu_print_become_an_attributed_run(live, admin, publisher):
    client = live
    printer = factories.machine(client, admin, name="X1C", adapter="bambu", address="01S00A123")
    factories.reader(client, admin, name="x1c-reader", machine_id=printer["id"])
    ada = factories.contributor(client, admin, name="Ada")
    factories.badge(client, admin, ada["id"], ADA)
    wait_subscribed(client)

    publisher.send("lab/v1/badge/x1c-reader", {"badge": "0F00C2E0A5"})
    topic = "device/01S00A123/report"
    publisher.send(
        topic, bambu("IDLE", 1, gcode_file="", subtask_name="", mc_percent=0, print_error=0)
    )
    publisher.send(
        topic,
        bambu(
            "RUNNING",
            2,
            subtask_name="bracket_v3",
            mc_percent=1,
            gcode_file="/data/Metadata/plate_1.gcode",
        ),
    )
    publisher.send(topic, bambu(seq=3, mc_percent=43))
    publisher.send(topic, bambu("PAUSE", 4))
    time.sleep(0.3)
    publisher.send(topic, bambu("RUNNING", 5))
    publisher.send(topic, bambu("FINISH", 6, mc_percent=100))

    (run,) = eventually(lambda: [r for r in runs(client, admin) if r["end_reason"]])
    assert run["operator_id"] == ada["id"] and run["attribution"] == "session"
    assert run["job"] == "bracket_v3" and run["end_reason"] == "finished"
    assert run["busy_s"] < run["wall_s"]
    session = client.get("/api/v1/sessions", headers=admin).json()["items"][0]
    assert session["contributor_id"] == ada["id"] and session["closed_at"] is None


def tasmota_sensor(power: float, total_kwh: float) -> dict:
    return {
        "Time": datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
        "ENERGY": {"Total": total_kwh, "Power": power},
    }


def test_tasmota_laser_run_ignores_a_short_spike(live, admin, publisher):
    client = live
    laser = factories.machine(
        client,
        admin,
        name="Laser",
        kind="laser",
        adapter="tasmota",
        address="laser",
        running_threshold_w=200,
        run_start_after_s=0.6,
        run_stop_after_s=0.6,
    )
    wait_subscribed(client)
    topic = "tele/laser/SENSOR"
    total = 10.0
    publisher.send(topic, tasmota_sensor(5, total))
    publisher.send(topic, tasmota_sensor(900, total))  # a lone spike
    time.sleep(0.3)
    publisher.send(topic, tasmota_sensor(6, total))
    time.sleep(0.8)
    publisher.send(topic, tasmota_sensor(7, total))
    assert runs(client, admin, machine_id=laser["id"]) == []
    for _ in range(5):
        total += 0.01
        publisher.send(topic, tasmota_sensor(850, total))
        time.sleep(0.3)
    for watts in (3, 4, 3.5, 2):  # distinct readings: an exact repeat is a redelivery
        publisher.send(topic, tasmota_sensor(watts, total))
        time.sleep(0.3)
    (run,) = eventually(
        lambda: [r for r in runs(client, admin, machine_id=laser["id"]) if r["ended_at"]]
    )
    assert run["end_reason"] == "finished"
    assert 0.9 <= run["busy_s"] <= 3.0
    assert abs(run["energy_wh"] - 40.0) < 0.5


def test_garbage_is_counted_and_listed_not_dropped(live, admin, publisher):
    client = live
    factories.machine(client, admin, name="P", adapter="lab", address="p1")
    wait_subscribed(client)
    publisher.send("lab/v1/machine/p1/state", b"\xff not json")
    reject = eventually(lambda: client.get("/api/v1/rejects", headers=admin).json()["items"])
    assert reject[0]["source"] == "lab/v1/machine/p1/state"
    assert (
        "lab" in client.get("/metrics").text.split("labledger_ingest_rejects_total{source=")[1][:10]
    )


def test_redelivered_message_is_recorded_once(live, admin, publisher, engine):
    client = live
    factories.machine(client, admin, name="P", adapter="lab", address="p1")
    wait_subscribed(client)
    message = {"state": "running", "id": "dup-1", "at": datetime.now(UTC).isoformat()}
    for _ in range(3):
        publisher.send("lab/v1/machine/p1/state", message)
    publisher.send("lab/v1/machine/p1/state", {"state": "finished", "id": "end-1"})
    eventually(lambda: runs(client, admin) and runs(client, admin)[0]["ended_at"])
    with Session(engine) as db:
        assert db.exec(select(func.count()).select_from(DeviceEvent)).one() == 2


def test_new_machine_is_listened_to_without_restart(live, admin, publisher):
    client = live
    factories.machine(client, admin, name="First", adapter="lab", address="first")
    wait_subscribed(client)
    later = factories.machine(client, admin, name="Later", adapter="octoprint", address="octoPrint")
    eventually(lambda: "octoPrint/event/+" in client.app.state.ingest.link.acknowledged)
    publisher.send(
        "octoPrint/event/PrintStarted",
        {
            "_timestamp": int(time.time()),
            "_event": "PrintStarted",
            "origin": "local",
            "file": "/x/case.gco",
            "filename": "case.gco",
        },
    )
    publisher.send(
        "octoPrint/event/PrintFailed",
        {
            "_timestamp": int(time.time()) + 5,
            "_event": "PrintFailed",
            "reason": "error",
            "filename": "case.gco",
        },
    )
    (run,) = eventually(
        lambda: [r for r in runs(client, admin, machine_id=later["id"]) if r["ended_at"]]
    )
    assert run["end_reason"] == "failed" and run["job"] == "case.gco"


def test_service_announces_itself_retained_with_a_will(live, broker):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    seen = {}
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.on_message = lambda _c, _u, m: seen.setdefault(m.topic, json.loads(m.payload))
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("lab/v1/service/+/status", qos=1)
    watcher.loop_start()
    try:
        status = eventually(lambda: seen)
        assert next(iter(status.values()))["state"] == "online"
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_readyz_reports_the_broker_going_away_and_coming_back(live, broker):
    client = live
    broker.stop()
    eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "disconnected")
    assert client.get("/readyz").status_code == 200
    broker.start()
    eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected", timeout=40)


def test_events_during_a_broker_restart_are_counted_exactly_once(live, admin, broker, engine):
    from tests.ingest.conftest import Publisher

    client = live
    factories.machine(client, admin, name="P", adapter="lab", address="p1")
    wait_subscribed(client)
    start = datetime.now(UTC)
    publisher = Publisher(broker.port)
    for i in range(10):
        publisher.send(
            "lab/v1/machine/p1/state",
            {
                "state": "running",
                "id": f"e{i}",
                "at": (start + timedelta(seconds=i)).isoformat(),
                "progress": i,
            },
        )
    publisher.close()
    eventually(lambda: _count(engine) == 10)
    broker.restart()
    eventually(lambda: client.get("/readyz").json()["mqtt"]["state"] == "connected", timeout=40)
    publisher = Publisher(broker.port)
    for i in range(10, 20):
        publisher.send(
            "lab/v1/machine/p1/state",
            {
                "state": "running",
                "id": f"e{i}",
                "at": (start + timedelta(seconds=i)).isoformat(),
                "progress": i,
            },
        )
    publisher.send(
        "lab/v1/machine/p1/state",
        {"state": "finished", "id": "end", "at": (start + timedelta(seconds=30)).isoformat()},
    )
    publisher.close()
    eventually(lambda: _count(engine) == 21)
    time.sleep(0.5)
    assert _count(engine) == 21
    (run,) = runs(client, admin)
    assert run["busy_s"] == 30


def _count(engine) -> int:
    with Session(engine) as db:
        return int(db.exec(select(func.count()).select_from(DeviceEvent)).one())
