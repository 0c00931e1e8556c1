"""A run closed by its machine going offline keeps the time and energy it measured."""

from __future__ import annotations

import time

from tests import factories
from tests.ingest.conftest import eventually
from tests.ingest.test_mqtt_ingest import runs, tasmota_sensor, wait_subscribed


def test_plug_going_offline_mid_run_keeps_its_time_and_energy(live, admin, publisher):
    client = live
    laser = factories.machine(
        client,
        admin,
        name="Laser",
        kind="laser",
        adapter="tasmota",
        address="laser",
        running_threshold_w=200,
        run_start_after_s=0.5,
        run_stop_after_s=0.5,
    )
    wait_subscribed(client)
    topic = "tele/laser/SENSOR"
    publisher.send(topic, tasmota_sensor(5, 10.0))
    total = 10.0
    for _ in range(8):
        time.sleep(0.3)
        publisher.send(topic, tasmota_sensor(900, total))
        total += 0.0025  # 2.5 Wh per reading: 17.5 Wh from the first to the last
    publisher.send("tele/laser/LWT", b"Offline")
    (run,) = eventually(
        lambda: [r for r in runs(client, admin, machine_id=laser["id"]) if r["ended_at"]]
    )
    assert run["end_reason"] == "offline" and run["flagged"] is True
    assert 1.8 <= run["busy_s"] <= 3.5 and run["wall_s"] == run["busy_s"]
    assert abs(run["energy_wh"] - 17.5) < 0.01
    assert run["provenance"] == "closed_at_last_sample"
