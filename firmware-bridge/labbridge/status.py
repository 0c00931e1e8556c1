"""What each device last did, kept in the bridge's database, and the `labbridge status` report.

The agent writes (`StatusBoard`); `read_report` and `format_report` read the
same SQLite file from another process, so the report works while the agent
runs. Badge ids are masked here as in the logs: the table is for operators
checking that a reader works, not a record of who came in. The table is a
view, not a record: on a full disk an update is skipped (and logged at debug)
rather than stopping the thread that reads a device.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devices.events import BadgeScan, Event, MachineState
from labbridge.database import Database, is_disk_full, utc_now_text
from labbridge.outbox import Outbox, OutboxCounts

MAX_ERROR = 200

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """One device's row of the status table."""

    device: str
    kind: str
    port: str
    port_open: bool
    events: int
    last_event: str | None
    last_seen_at: str | None
    last_error: str | None
    last_error_at: str | None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `labbridge status` prints."""

    bridge: dict[str, str]
    outbox: OutboxCounts
    devices: list[DeviceStatus]


def summarise(event: Event) -> str:
    """A short line saying what an event was, badge ids masked."""
    if isinstance(event, BadgeScan):
        return f"badge ...{event.badge[-4:]}"
    return summarise_state(event)


def summarise_state(event: MachineState) -> str:
    """A machine state as ``running 42% job cube.gcode``."""
    parts = [str(event.state)]
    if event.progress is not None:
        parts.append(f"{event.progress:g}%")
    if event.job:
        parts.append(f"job {event.job}")
    if event.reported_busy_s is not None:
        parts.append(f"busy {event.reported_busy_s:g}s")
    return " ".join(parts)


class StatusBoard:
    """Writes the per-device status rows and the bridge's own state."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, skipped when the disk is full."""
        try:
            with self._db.transaction() as connection:
                yield connection
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):
                raise
            logger.debug("status not updated: the disk is full")

    def register(self, devices: list[tuple[str, str, str]]) -> None:
        """Start the table afresh with the configured (device, kind, port), all closed."""
        now = utc_now_text()
        names = [name for name, _kind, _port in devices]
        with self._write() as connection:
            marks = ",".join("?" * len(names))
            connection.execute(f"DELETE FROM device_status WHERE device NOT IN ({marks})", names)  # noqa: S608
            for name, kind, port in devices:
                connection.execute(
                    "INSERT INTO device_status (device, kind, port, port_open, updated_at)"
                    " VALUES (?, ?, ?, 0, ?) ON CONFLICT (device) DO UPDATE SET"
                    " kind = excluded.kind, port = excluded.port, port_open = 0,"
                    " updated_at = excluded.updated_at",
                    (name, kind, port, now),
                )

    def port(self, device: str, *, is_open: bool, error: str | None = None) -> None:
        """Record that a device's port (or connection) opened or closed, and why it closed."""
        now = utc_now_text()
        with self._write() as connection:
            connection.execute(
                "UPDATE device_status SET port_open = ?, updated_at = ? WHERE device = ?",
                (int(is_open), now, device),
            )
            if error is not None:
                connection.execute(
                    "UPDATE device_status SET last_error = ?, last_error_at = ? WHERE device = ?",
                    (error[:MAX_ERROR], now, device),
                )

    def seen(self, device: str, summary: str, count: int = 1) -> None:
        """Record what a device last did; `count` events were sent for it."""
        now = utc_now_text()
        with self._write() as connection:
            connection.execute(
                "UPDATE device_status SET last_event = ?, last_seen_at = ?,"
                " events = events + ?, updated_at = ? WHERE device = ?",
                (summary, now, count, now, device),
            )

    def error(self, device: str, error: str) -> None:
        """Record the last thing a device sent that could not be read."""
        now = utc_now_text()
        with self._write() as connection:
            connection.execute(
                "UPDATE device_status SET last_error = ?, last_error_at = ?, updated_at = ?"
                " WHERE device = ?",
                (error[:MAX_ERROR], now, now, device),
            )

    def set_bridge(self, **values: str) -> None:
        """Set keys of the bridge's own state (broker connection, version, pid)."""
        with self._write() as connection:
            connection.executemany(
                "INSERT INTO bridge_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )


def read_report(path: Path) -> Report:
    """Read the status from the agent's database (raises DatabaseMissing if there is none)."""
    db = Database(path, create=False)
    try:
        bridge = {
            row["key"]: row["value"] for row in db.query("SELECT key, value FROM bridge_state")
        }
        devices = [
            DeviceStatus(
                row["device"],
                row["kind"],
                row["port"],
                bool(row["port_open"]),
                row["events"],
                row["last_event"],
                row["last_seen_at"],
                row["last_error"],
                row["last_error_at"],
            )
            for row in db.query("SELECT * FROM device_status ORDER BY device COLLATE NOCASE")
        ]
        return Report(bridge, Outbox(db).counts(), devices)
    finally:
        db.close()


def _short_time(text: str | None) -> str:
    """An RFC 3339 time to the second, without the zone (all times are UTC)."""
    return text[:19].replace("T", " ") if text else "-"


def format_report(report: Report) -> str:
    """The report as plain text: a header about the bridge, then one line per device."""
    bridge = report.bridge
    outbox = report.outbox
    lines = [
        f"bridge {bridge.get('bridge_id', '?')} (labbridge {bridge.get('version', '?')},"
        f" pid {bridge.get('pid', '?')}, started {_short_time(bridge.get('started_at'))} UTC)",
        f"lab broker {bridge.get('broker', '?')}: {bridge.get('broker_state', 'unknown')}"
        f" since {_short_time(bridge.get('broker_since'))}",
        f"outbox: {outbox.waiting} waiting"
        + (f" (oldest {_short_time(outbox.oldest_waiting_at)})" if outbox.waiting else "")
        + f", {outbox.published} sent (last {_short_time(outbox.last_published_at)})"
        + (
            f", {bridge['outbox_not_stored']} not stored (disk full)"
            if bridge.get("outbox_not_stored")
            else ""
        ),
        "",
    ]
    header = ("DEVICE", "KIND", "PORT", "STATE", "EVENTS", "LAST EVENT", "LAST SEEN", "LAST ERROR")
    rows = [header] + [
        (
            d.device,
            d.kind,
            d.port,
            "open" if d.port_open else "closed",
            str(d.events),
            d.last_event or "-",
            _short_time(d.last_seen_at),
            f"{d.last_error} ({_short_time(d.last_error_at)})" if d.last_error else "-",
        )
        for d in report.devices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"
