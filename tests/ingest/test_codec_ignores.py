"""What a codec does not turn into an event is a counted ignore; a silent end is not a cancel."""

from __future__ import annotations

import re

from tests import factories
from tests.ingest.conftest import eventually
from tests.ingest.test_mqtt_ingest import runs, wait_subscribed

TOPIC = "device/01S00A777/report"


def _ignored(client, reason: str) -> float:
    pattern = rf'labledger_ingest_ignored_total{{reason="{reason}",source="device"}} (\S+)'
    found = re.search(pattern, client.get("/metrics").text)
    return float(found.group(1)) if found else 0.0


def test_bambu_report_without_command_counts_and_a_silent_stop_is_interrupted(
    live, admin, publisher
):
    client = live
    printer = factories.machine(client, admin, name="P1S", adapter="bambu", address="01S00A777")
    wait_subscribed(client)
    before = _ignored(client, "command_reply")
    publisher.send(TOPIC, {"print": {"sequence_id": "1", "gcode_state": "IDLE"}})
    publisher.send(
        TOPIC, {"print": {"sequence_id": "2", "gcode_state": "RUNNING", "subtask_name": "clip"}}
    )
    publisher.send(TOPIC, {"print": {"command": "gcode_line", "sequence_id": "3"}})
    eventually(lambda: runs(client, admin, machine_id=printer["id"]))
    publisher.send(TOPIC, {"print": {"sequence_id": "4", "gcode_state": "IDLE"}})
    (run,) = eventually(
        lambda: [r for r in runs(client, admin, machine_id=printer["id"]) if r["ended_at"]]
    )
    assert run["job"] == "clip" and run["end_reason"] == "interrupted"
    assert run["flagged"] is True and "interrupted" in run["flag_reason"]
    eventually(lambda: _ignored(client, "command_reply") == before + 1)


def test_plain_plug_readings_are_counted_as_documented_ignores(live, admin, publisher):
    client = live
    factories.machine(
        client,
        admin,
        name="Laser",
        kind="laser",
        adapter="tasmota",
        address="laser9",
        running_threshold_w=200,
    )
    wait_subscribed(client)
    pattern = r'labledger_ingest_ignored_total{reason="(\w+)",source="tele"} (\S+)'

    def counted() -> dict[str, float]:
        return {m[0]: float(m[1]) for m in re.findall(pattern, client.get("/metrics").text)}

    before = counted()
    publisher.send("tele/laser9/SENSOR", {"ENERGY": {"Power": 3, "Total": 1.0}})  # settles idle
    publisher.send("tele/laser9/SENSOR", {"ENERGY": {"Power": 4, "Total": 1.0}})
    eventually(lambda: counted().get("no_transition", 0) == before.get("no_transition", 0) + 1)
