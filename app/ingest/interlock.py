"""The interlock driver: sends power commands to relays and confirms them from reported state.

`app.lab.access.interlock` decides (rows in `power_command`); this thread acts.
Every `every_s` it:

1. applies the relay states heard since the last step (`observe`, fed by the
   ingest worker): a command that was sent is confirmed by a report of the
   state it asked for, received after it was sent;
2. reconciles every interlocked machine under its status lock, so timeouts and
   cool-downs that ran out are acted on without another event;
3. sends due pending commands, resends sent ones unconfirmed after `confirm_s`,
   and marks a command `failed` (for review) after `attempts` sends.

A command is never marked sent while the broker is unreachable: it waits. Only
the newest command per machine is open, so a replay never flips a relay back.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.ingest import metrics
from app.ingest.outage import OutageLog
from app.lab.access.interlock import has_interlock, power_state, reconcile
from app.lab.access.models import OPEN_COMMANDS, CommandStatus, PowerCommand
from app.lab.models import Machine
from app.lab.runs import lock_status
from devices import relay

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], bool]


@dataclass(frozen=True)
class InterlockConfig:
    """How long to wait for a confirmation, how often to send, how often to look."""

    confirm_s: float = 5.0
    attempts: int = 3
    every_s: float = 1.0


@dataclass(frozen=True, slots=True)
class _Relay:
    machine_id: int
    kind: str
    address: str


@dataclass(frozen=True, slots=True)
class _Report:
    machine_id: int
    on: bool
    at: datetime


class InterlockDriver:
    """One thread per replica that drives the relays of interlocked machines."""

    def __init__(self, engine: Engine, config: InterlockConfig, publish: Publish, source: str):
        self.engine = engine
        self.config = config
        self._publish = publish
        self._source = source
        self._relays: dict[str, list[_Relay]] = {}
        self._reports: queue.SimpleQueue[_Report] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labledger-interlock", daemon=True)
        self._outage = OutageLog(log, "interlock driver")

    @property
    def filters(self) -> set[str]:
        """The state topics of every relay driven."""
        return set(self._relays)

    def rebuild(self, db: Session) -> None:
        """Reload which relays exist and the topics they report on."""
        relays: dict[str, list[_Relay]] = {}
        for machine in db.exec(select(Machine).where(col(Machine.interlock).is_not(None))).all():
            if machine.id is None or not has_interlock(machine):
                continue
            assert machine.interlock is not None and machine.interlock_address is not None
            try:
                topics = relay.state_topics(machine.interlock, machine.interlock_address)
            except ValueError as exc:
                log.warning("machine %s: interlock not usable: %s", machine.id, exc)
                continue
            entry = _Relay(machine.id, machine.interlock, machine.interlock_address)
            for topic in topics:
                relays.setdefault(topic, []).append(entry)
        self._relays = relays

    def observe(self, topic: str, payload: bytes, received_at: datetime) -> bool:
        """Note a relay's reported state; whether the topic belongs to a relay at all."""
        entries = self._relays.get(topic)
        if not entries:
            return False
        for entry in entries:
            on = relay.read_power(entry.kind, entry.address, topic, payload)
            if on is not None:
                self._reports.put(_Report(entry.machine_id, on, received_at))
        return True

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.config.every_s):
            try:
                self.step(datetime.now(UTC))
                self._outage.answered()
            except Exception as exc:  # the driver must outlive any one failure
                if not self._outage.quiet(exc):
                    log.exception("interlock step failed")

    def step(self, now: datetime) -> None:
        """Apply reports, reconcile, and send what is due (one transaction)."""
        with Session(self.engine) as db:
            self._apply_reports(db)
            machines = db.exec(select(Machine).where(col(Machine.interlock).is_not(None))).all()
            for machine in machines:
                if machine.id is not None and has_interlock(machine):
                    lock_status(db, machine.id)
                    reconcile(db, machine, now)
            self._dispatch(db, now)
            db.commit()

    def _apply_reports(self, db: Session) -> None:
        while True:
            try:
                report = self._reports.get_nowait()
            except queue.Empty:
                return
            state = power_state(db, report.machine_id)
            if state.reported_at is None or report.at >= state.reported_at:
                state.reported_on = report.on
                state.reported_at = report.at
            sent = db.exec(
                select(PowerCommand).where(
                    PowerCommand.machine_id == report.machine_id,
                    PowerCommand.status == CommandStatus.SENT,
                    PowerCommand.want_on == report.on,
                )
            ).all()
            for command in sent:
                if command.sent_at is not None and command.sent_at <= report.at:
                    command.status = CommandStatus.CONFIRMED
                    command.confirmed_at = report.at
                    metrics.POWER_COMMANDS.labels("confirmed").inc()
                    log.info("machine %s: power %s confirmed", command.machine_id, _word(report.on))

    def _dispatch(self, db: Session, now: datetime) -> None:
        due = db.exec(
            select(PowerCommand, Machine)
            .join(Machine, col(Machine.id) == PowerCommand.machine_id)
            .where(col(PowerCommand.status).in_(OPEN_COMMANDS), PowerCommand.not_before <= now)
            .order_by(col(PowerCommand.id))
        ).all()
        wait = timedelta(seconds=self.config.confirm_s)
        for command, machine in due:
            if command.status == CommandStatus.SENT:
                assert command.sent_at is not None
                if now - command.sent_at < wait:
                    continue
                if command.attempts >= self.config.attempts:
                    command.status = CommandStatus.FAILED
                    command.failed_at = now
                    command.detail = f"no confirmation after {command.attempts} sends"
                    metrics.POWER_COMMANDS.labels("failed").inc()
                    log.warning(
                        "machine %s: power %s not confirmed; raised for review",
                        machine.id,
                        _word(command.want_on),
                    )
                    continue
            self._send(db, command, machine, now)

    def _send(self, db: Session, command: PowerCommand, machine: Machine, now: datetime) -> None:
        if not has_interlock(machine):
            command.status = CommandStatus.SUPERSEDED
            command.detail = "the machine no longer has an interlock"
            return
        assert command.id is not None and machine.interlock and machine.interlock_address
        try:
            message = relay.command(
                machine.interlock,
                machine.interlock_address,
                command.want_on,
                command.id,
                self._source,
            )
        except ValueError as exc:
            command.status = CommandStatus.FAILED
            command.failed_at = now
            command.detail = str(exc)[:500]
            metrics.POWER_COMMANDS.labels("failed").inc()
            return
        if not self._publish(message.topic, message.payload):
            return  # broker away: it stays due and goes out when the link is back
        retry = command.status == CommandStatus.SENT
        command.status = CommandStatus.SENT
        command.sent_at = now
        command.attempts += 1
        metrics.POWER_COMMANDS.labels("retried" if retry else "sent").inc()
        assert machine.id is not None
        power_state(db, machine.id).holding = None


def _word(on: bool) -> str:
    return "on" if on else "off"
