"""What a machine's power relay should be, decided from sessions and runs, as commands.

The relay should be on while someone holds the machine's session. With no
session it should be off, but never while a run is in progress: it holds until
the run ends, then waits the machine's `interlock_cooldown_s` (a laser's fume
extraction) before switching off. `reconcile` compares that wish with the
newest command and, when they differ, adds a new one (superseding any still
open); ingest sends it, confirms it from the device's reported state, retries
it and finally marks it failed for review. This module only writes rows: it
knows nothing of MQTT.

A session that began after the newest command was opened without LabLedger
(a bridge admitted it from its cache while LabLedger was away, and may have
switched the relay on), so once it is closed the relay is switched off too.

`reconcile` runs under the machine's status lock (the caller takes it), after
every scan and machine event and on a periodic sweep, so a timeout or a
cool-down that runs out is acted on without another event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.lab.access.models import OPEN_COMMANDS, CommandStatus, PowerCommand, PowerState
from app.lab.activity import LabSession, MachineRun
from app.lab.models import Machine
from app.lab.runs import run_is_open
from app.lab.sessions import open_session_on


def has_interlock(machine: Machine) -> bool:
    """Whether LabLedger switches this machine's relay."""
    return bool(machine.active and machine.interlock and machine.interlock_address)


def power_state(db: Session, machine_id: int) -> PowerState:
    """The machine's relay row (made on first use)."""
    state = db.get(PowerState, machine_id)
    if state is None:
        state = PowerState(machine_id=machine_id)
        db.add(state)
        db.flush()
    return state


def last_command(db: Session, machine_id: int) -> PowerCommand | None:
    """The newest command for a machine."""
    return db.exec(
        select(PowerCommand)
        .where(PowerCommand.machine_id == machine_id)
        .order_by(col(PowerCommand.id).desc())
    ).first()


def _last_closed_session(db: Session, machine_id: int) -> LabSession | None:
    return db.exec(
        select(LabSession)
        .where(LabSession.machine_id == machine_id, col(LabSession.closed_at).is_not(None))
        .order_by(col(LabSession.closed_at).desc())
    ).first()


def _last_ended_run(db: Session, machine_id: int) -> MachineRun | None:
    return db.exec(
        select(MachineRun)
        .where(MachineRun.machine_id == machine_id, col(MachineRun.ended_at).is_not(None))
        .order_by(col(MachineRun.ended_at).desc())
    ).first()


def _used_since(db: Session, machine: Machine, latest: PowerCommand | None) -> bool:
    """Whether a session began after the newest command (or, with none, after the machine was
    last configured): a bridge admitted it offline and may have switched the relay on."""
    assert machine.id is not None
    session = _last_closed_session(db, machine.id)
    if session is None:
        return False
    since = latest.requested_at if latest is not None else machine.updated_at
    return session.opened_at > since


def _off_reason_and_time(db: Session, machine: Machine, now: datetime) -> tuple[str, datetime]:
    """Why the relay goes off, and when at the earliest (after a run's cool-down)."""
    assert machine.id is not None
    session = _last_closed_session(db, machine.id)
    run = _last_ended_run(db, machine.id)
    reason = (session.close_reason or "closed") if session else "no_session"
    not_before = now
    if run is not None and run.ended_at is not None:
        if session is None or session.closed_at is None or run.ended_at > session.closed_at:
            reason = "run_ended"
        cooled = run.ended_at + timedelta(seconds=machine.interlock_cooldown_s)
        if cooled > now:
            not_before = cooled
            reason = "cooldown"
    return reason, not_before


def _issue(
    db: Session, machine_id: int, want_on: bool, reason: str, now: datetime, not_before: datetime
) -> PowerCommand:
    for open_command in db.exec(
        select(PowerCommand).where(
            PowerCommand.machine_id == machine_id, col(PowerCommand.status).in_(OPEN_COMMANDS)
        )
    ).all():
        open_command.status = CommandStatus.SUPERSEDED
    command = PowerCommand(
        machine_id=machine_id,
        want_on=want_on,
        reason=reason[:32],
        requested_at=now,
        not_before=not_before,
    )
    db.add(command)
    db.flush()
    return command


def _cooling(command: PowerCommand | None, now: datetime) -> str | None:
    """What the relay waits for when its "off" is held back by a cool-down."""
    if command is None or command.want_on or command.status != CommandStatus.PENDING:
        return None
    if command.not_before <= now:
        return None
    return f"cool-down until {command.not_before.isoformat()}"


def reconcile(db: Session, machine: Machine, now: datetime) -> PowerCommand | None:
    """Add the command that brings the relay to what it should be now, if one is needed."""
    if not has_interlock(machine):
        return None
    assert machine.id is not None
    state = power_state(db, machine.id)
    latest = last_command(db, machine.id)
    session = open_session_on(db, machine.id)
    if session is not None:
        state.holding = None
        if latest is not None and latest.want_on:
            return None
        return _issue(db, machine.id, True, "badge_in", now, now)
    if (latest is None or not latest.want_on) and not _used_since(db, machine, latest):
        state.holding = _cooling(latest, now)
        return None  # off already (or on its way), or never switched on
    if run_is_open(db, machine.id):
        state.holding = "run in progress"
        return None
    reason, not_before = _off_reason_and_time(db, machine, now)
    command = _issue(db, machine.id, False, reason, now, not_before)
    state.holding = _cooling(command, now)
    return command
