"""A lab of 200 machines and 60 badge readers, and a backlog of their messages in real formats.

Each machine cycles through a print (or a power-on stretch) in its own device's
wire format; each reader scans its badge. Every message differs from the
previous one of its topic, so every message is a distinct event or reading.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert
from sqlmodel import Session

from app.lab.models import Badge, Contributor, Machine, Reader

ADAPTERS = ("bambu", "octoprint", "moonraker", "tasmota", "shelly", "lab")
MACHINES = 200
READERS = 60


def address(adapter: str, index: int) -> str:
    """The machine's address: its serial, base topic, instance, device topic or prefix."""
    return {
        "bambu": f"01S00A{index:06d}",
        "octoprint": f"octoPrint{index}",
        "moonraker": f"voron{index}",
        "tasmota": f"laser{index}",
        "shelly": f"shellyplus1pm-{index:06d}",
        "lab": f"m{index}",
    }[adapter]


def build_lab(engine: Engine) -> list[tuple[str, str]]:
    """Insert people, badges, machines and readers; return each machine's adapter and address."""
    machines = [(ADAPTERS[i % len(ADAPTERS)], i) for i in range(MACHINES)]
    with Session(engine) as db:
        db.execute(
            insert(Contributor),
            [{"name": f"maker {i}", "display_name": f"Maker {i}"} for i in range(READERS)],
        )
        db.execute(
            insert(Badge),
            [
                {"card_id": f"{1000000 + i:010d}", "contributor_id": i + 1, "status": "active"}
                for i in range(READERS)
            ],
        )
        db.execute(
            insert(Machine),
            [
                {
                    "name": f"{adapter} {i}",
                    "kind": "laser" if adapter in ("tasmota", "shelly") else "printer",
                    "adapter": adapter,
                    "address": address(adapter, i),
                    "provider_id": 1,
                    "running_threshold_w": 50.0 if adapter in ("tasmota", "shelly") else None,
                    "run_start_after_s": 0.001,
                    "run_stop_after_s": 0.001,
                }
                for adapter, i in machines
            ],
        )
        db.execute(
            insert(Reader),
            [
                {
                    "name": f"reader{i}",
                    "protocol": "mqtt",
                    "address": f"reader{i}",
                    "machine_id": i + 1,
                }
                for i in range(READERS)
            ],
        )
        db.commit()
    return [(adapter, address(adapter, i)) for adapter, i in machines]


def _cycle(adapter: str, addr: str, step: int, at: datetime) -> tuple[str, dict[str, object] | str]:
    """The `step`-th message of one machine, cycling start, progress, end, idle."""
    phase = step % 4
    stamp = at.isoformat()
    if adapter == "bambu":
        states = ("RUNNING", "RUNNING", "FINISH", "IDLE")
        report: dict[str, object] = {
            "command": "push_status",
            "sequence_id": str(step),
            "gcode_state": states[phase],
            "mc_percent": (0, 50, 100, 0)[phase],
            "subtask_name": f"bracket_{step // 4}",
            "print_error": 0,
        }
        return f"device/{addr}/report", {"print": report}
    if adapter == "octoprint":
        ts = int(at.timestamp())
        if phase == 1:
            body = {"_timestamp": ts, "progress": 50, "location": "local", "path": "case.gco"}
            return f"{addr}/progress/printing", body
        event = ("PrintStarted", None, "PrintDone", "PrintStarted")[phase]
        if phase == 3:
            event = "PrintCancelled"
        body = {"_timestamp": ts, "_event": event, "origin": "local", "path": "case.gco"}
        if event == "PrintDone":
            body["time"] = 3600
        return f"{addr}/event/{event}", body
    if adapter == "moonraker":
        state = ("printing", "paused", "complete", "standby")[phase]
        stats = {"state": state, "print_duration": float(step), "filename": "cube.gcode"}
        return f"{addr}/klipper/status", {
            "eventtime": float(step),
            "status": {"print_stats": stats},
        }
    if adapter == "tasmota":
        power = (120 + step % 7, 130, 5, 2)[phase]
        energy = {"Total": 514.0 + step / 1000, "Power": power, "Voltage": 234}
        return f"tele/{addr}/SENSOR", {"Time": stamp[:19], "ENERGY": energy}
    if adapter == "shelly":
        power = (150.0 + step % 5, 160.0, 3.0, 1.0)[phase]
        status = {"id": 0, "output": True, "apower": power, "aenergy": {"total": 1000.0 + step}}
        return f"{addr}/status/switch:0", status
    state = ("running", "paused", "finished", "idle")[phase]
    return f"lab/v1/machine/{addr}/state", {"state": state, "at": stamp, "job": f"job {step // 4}"}


def backlog(machines: list[tuple[str, str]], total: int) -> Iterator[tuple[str, bytes]]:
    """`total` messages: rounds over every machine, a badge scan per reader every fourth round."""
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    sent = 0
    step = 0
    while sent < total:
        at = start + timedelta(seconds=10 * step)
        for adapter, addr in machines:
            topic, body = _cycle(adapter, addr, step, at)
            yield topic, json.dumps(body).encode()
            sent += 1
            if sent == total:
                return
        if step % 4 == 0:
            for reader in range(READERS):
                scan = {"badge": f"{1000000 + reader:010d}", "at": at.isoformat()}
                yield f"lab/v1/badge/reader{reader}", json.dumps(scan).encode()
                sent += 1
                if sent == total:
                    return
        step += 1
