"""Which slot reads which filter: one device together, the same answer in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from app.ingest.slot_partition import partition, slot_of

GROUPS = [
    ("machine:1", ("lab/v1/machine/a/state",)),
    ("machine:1", ("lab/v1/machine/A/state",)),  # the name alias of the same machine
    ("machine:2", ("device/b/report", "device/b/request")),
    ("reader:3", ("lab/v1/reader/r/scan",)),
    ("machine:4", ("tele/shared/SENSOR",)),
    ("machine:5", ("tele/shared/SENSOR", "stat/five/POWER")),
    *((f"machine:{n}", (f"lab/v1/machine/m{n}/state",)) for n in range(10, 40)),
]


def _slot_holding(shares: dict[int, set[str]], topic_filter: str) -> int:
    (slot,) = [slot for slot, filters in shares.items() if topic_filter in filters]
    return slot


def test_every_filter_is_in_exactly_one_slot_and_a_device_stays_together():
    shares = partition(GROUPS, 4)
    every = [f for filters in shares.values() for f in filters]
    assert sorted(every) == sorted({f for _, filters in GROUPS for f in filters})
    assert _slot_holding(shares, "lab/v1/machine/a/state") == _slot_holding(
        shares, "lab/v1/machine/A/state"
    )
    assert _slot_holding(shares, "device/b/report") == _slot_holding(shares, "device/b/request")
    # Two devices on one topic are one group, placed by the smaller key.
    assert _slot_holding(shares, "stat/five/POWER") == slot_of("machine:4", 4)
    assert _slot_holding(shares, "tele/shared/SENSOR") == slot_of("machine:4", 4)
    # Thirty devices over four slots leave no slot empty.
    assert all(shares[slot] for slot in range(4))


def test_the_order_of_devices_does_not_change_the_answer():
    assert partition(GROUPS, 4) == partition(list(reversed(GROUPS)), 4)


def _in_process(seed: str) -> dict[str, list[str]]:
    code = (
        "import json, sys\n"
        "from app.ingest.slot_partition import partition\n"
        "groups = json.loads(sys.argv[1])\n"
        "shares = partition([(k, tuple(f)) for k, f in groups], 4)\n"
        "print(json.dumps({str(s): sorted(f) for s, f in shares.items()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(GROUPS)],
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def test_two_processes_with_different_hash_seeds_place_devices_alike():
    assert _in_process("1") == _in_process("2")
