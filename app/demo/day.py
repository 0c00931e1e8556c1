"""A realistic day at the demo lab, as the devices themselves would publish it over MQTT.

Pure data: each message is (receive time, topic, payload bytes) in the device's
own format (Bambu `push_status` reports with partial deltas, Klipper status
through Moonraker, Tasmota telemetry every 30 s, lab/v1 badge scans). The day
runs 08:00-18:30 UTC; `demo_day` returns it in time order.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.demo.cast import MACHINES

TELE_PERIOD_S = 30
_ADDRESS = {name: address for name, _k, _a, address, _p, _t in MACHINES}


@dataclass(frozen=True)
class Message:
    """One MQTT message as the broker would deliver it."""

    at: datetime
    topic: str
    payload: bytes


class _Day:
    """Builds the day's messages; times are "HH:MM" on the day."""

    def __init__(self, day: datetime) -> None:
        self.day = day
        self.messages: list[Message] = []
        self._sequence = itertools.count(2000)
        self._eventtime = itertools.count(86_400)

    def at(self, clock: str) -> datetime:
        hours, minutes = (int(part) for part in clock.split(":"))
        return self.day + timedelta(hours=hours, minutes=minutes)

    def _add(self, at: datetime, topic: str, body: object) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.messages.append(Message(at, topic, payload))

    def scan(self, reader: str, card: str, clock: str) -> None:
        """A badge held to a lab/v1 reader."""
        at = self.at(clock)
        stamp = at.isoformat().replace("+00:00", "Z")
        self._add(
            at, f"lab/v1/badge/{reader}", {"badge": card, "at": stamp, "id": f"{reader}-{stamp}"}
        )

    def _bambu(self, machine: str, at: datetime, **fields: object) -> None:
        report = {"command": "push_status", "sequence_id": str(next(self._sequence)), **fields}
        self._add(at, f"device/{_ADDRESS[machine]}/report", {"print": report})

    def bambu_print(
        self,
        machine: str,
        job: str,
        start: str,
        end: str,
        outcome: str = "FINISH",
        pause: tuple[str, str] | None = None,
    ) -> None:
        """A Bambu print: full report, PREPARE, RUNNING with partial progress deltas, the end."""
        begin, finish = self.at(start), self.at(end)
        self._bambu(
            machine,
            begin - timedelta(minutes=2),
            gcode_state="IDLE",
            mc_percent=0,
            subtask_name="",
            gcode_file="",
            print_error=0,
        )
        self._bambu(
            machine,
            begin,
            gcode_state="PREPARE",
            subtask_name=job,
            gcode_file="/data/Metadata/plate_1.gcode",
        )
        running_from = begin + timedelta(minutes=4)
        self._bambu(machine, running_from, gcode_state="RUNNING", mc_percent=0)
        span = (finish - running_from).total_seconds()
        paused = (self.at(pause[0]), self.at(pause[1])) if pause else None
        moment = running_from + timedelta(minutes=10)
        while moment < finish:
            if paused and paused[0] <= moment < paused[1]:
                moment = paused[1]
                continue
            percent = int(100 * (moment - running_from).total_seconds() / span)
            if outcome != "FINISH":
                percent = min(percent, 62)
            self._bambu(
                machine,
                moment,
                mc_percent=percent,
                mc_remaining_time=int((finish - moment).total_seconds() // 60),
            )
            moment += timedelta(minutes=10)
        if paused:
            self._bambu(machine, paused[0], gcode_state="PAUSE")
            self._bambu(machine, paused[1], gcode_state="RUNNING")
        if outcome == "FINISH":
            self._bambu(machine, finish, gcode_state="FINISH", mc_percent=100, mc_remaining_time=0)
        else:
            self._bambu(
                machine,
                finish,
                gcode_state="FAILED",
                print_error=0x07008011,
                fail_reason="first layer detached",
            )

    def _klipper(self, instance: str, at: datetime, status: dict[str, object]) -> None:
        self._add(
            at,
            f"{instance}/klipper/status",
            {"eventtime": float(next(self._eventtime)), "status": status},
        )

    def klipper_print(self, machine: str, filename: str, start: str, end: str) -> None:
        """A Klipper print through Moonraker: online, printing with progress, complete."""
        instance = _ADDRESS[machine]
        begin, finish = self.at(start), self.at(end)
        self._add(
            begin - timedelta(minutes=30), f"{instance}/moonraker/status", {"server": "online"}
        )
        self._klipper(
            instance,
            begin - timedelta(minutes=29),
            {"print_stats": {"state": "standby", "filename": ""}},
        )
        self._klipper(
            instance,
            begin,
            {
                "print_stats": {"state": "printing", "filename": filename},
                "virtual_sdcard": {"progress": 0.0},
            },
        )
        moment, span = begin + timedelta(minutes=10), (finish - begin).total_seconds()
        while moment < finish:
            fraction = round((moment - begin).total_seconds() / span, 3)
            self._klipper(instance, moment, {"virtual_sdcard": {"progress": fraction}})
            moment += timedelta(minutes=10)
        busy = (finish - begin).total_seconds() - 40
        self._klipper(
            instance,
            finish,
            {
                "print_stats": {
                    "state": "complete",
                    "print_duration": busy,
                    "total_duration": busy + 40,
                    "filament_used": 18_430.5,
                },
                "virtual_sdcard": {"progress": 1.0},
            },
        )

    def plug(self, machine: str, start: str, end: str, cuts: list[tuple[str, str]]) -> None:
        """A Tasmota plug's telemetry every TelePeriod: standby draw, and the cuts."""
        topic = _ADDRESS[machine]
        begin, finish = self.at(start), self.at(end)
        self._add(begin - timedelta(seconds=5), f"tele/{topic}/LWT", b"Online")
        windows = [(self.at(a), self.at(b)) for a, b in cuts]
        total_kwh, moment = 131.204, begin
        while moment <= finish:
            cutting = any(a <= moment < b for a, b in windows)
            power = 78 + (moment.minute % 7) if cutting else 4
            total_kwh += power * TELE_PERIOD_S / 3_600_000
            local = (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
            self._add(
                moment,
                f"tele/{topic}/SENSOR",
                {
                    "Time": local,
                    "ENERGY": {
                        "TotalStartTime": "2025-02-11T09:12:40",
                        "Total": round(total_kwh, 3),
                        "Power": power,
                        "Voltage": 231,
                        "Current": round(power / 231, 3),
                    },
                },
            )
            moment += timedelta(seconds=TELE_PERIOD_S)


# Cards as each person's reader sends them (the enrolled forms, or another form of the same card).
ADA, BILAL, CHEN, CHEN_FOB, DANA = (
    "0012771493",
    "0012771511",
    "0004412377",
    "04A224B2C35E80",
    "0003399120",
)
VISITOR = "0009911001"


def demo_day(day: datetime) -> list[Message]:
    """The day's messages in time order; `day` is its midnight (UTC)."""
    d = _Day(day)
    for card, clock in ((ADA, "08:05"), (CHEN, "08:20"), (BILAL, "08:55"), (DANA, "09:50")):
        d.scan("door", card, clock)
    # X1C-1: Chen's two enclosure prints (a filament change pauses the second)
    d.scan("x1c-1-reader", CHEN, "08:30")
    d.bambu_print("X1C-1", "aq_case_bottom_x4", "08:32", "11:10")
    d.scan("x1c-1-reader", CHEN, "11:15")
    d.scan("x1c-1-reader", CHEN_FOB, "13:00")
    d.bambu_print("X1C-1", "aq_case_top_x4", "13:05", "16:40", pause=("14:00", "14:12"))
    d.scan("x1c-1-reader", CHEN_FOB, "16:45")
    # X1C-2: Dana's print fails; Ada starts one, then forgets to badge out (timeout)
    d.scan("x1c-2-reader", DANA, "10:10")
    d.bambu_print("X1C-2", "aq_sensor_mount", "10:15", "11:05", outcome="FAILED")
    d.scan("x1c-2-reader", DANA, "11:20")
    d.scan("x1c-2-reader", ADA, "14:00")
    d.bambu_print("X1C-2", "aq_lid_hinge", "14:05", "15:30")
    # Voron: Bilal's long print
    d.scan("voron-reader", BILAL, "09:15")
    d.klipper_print("Voron 2.4", "aq_duct_v3.gcode", "09:20", "12:00")
    d.scan("voron-reader", BILAL, "12:05")
    # Laser on a Tasmota plug: Ada cuts lids
    d.scan("laser-reader", ADA, "10:30")
    d.plug("Laser cutter", "10:28", "11:40", [("10:35", "11:02"), ("11:10", "11:25")])
    d.scan("laser-reader", ADA, "11:35")
    # a visitor's card nobody has enrolled yet
    d.scan("door", VISITOR, "12:15")
    for card, clock in ((DANA, "15:00"), (BILAL, "16:10"), (CHEN_FOB, "17:05"), (ADA, "18:20")):
        d.scan("door", card, clock)
    return sorted(d.messages, key=lambda m: m.at)
