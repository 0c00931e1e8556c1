"""Records decoded device events exactly once and applies them to sessions and runs.

Callers (the MQTT worker, serial readers, the HTTP event routes) label events
with the machine's or reader's id; a batch is applied in the caller's
transaction, and an event id already recorded is a no-op.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.db import utcnow
from app.lab.access import gate, interlock
from app.lab.access.gate import ScanReply
from app.lab.access.models import DenyReason
from app.lab.activity import DecodeReject, DeviceEvent, MachineRun, MachineStatus
from app.lab.models import Machine, Reader
from app.lab.runs import StateSample, apply_machine_sample, lock_status
from app.lab.sessions import (
    ScanRules,
    close_on_offline,
    end_overlong_session,
    handle_scan,
    remember_cards,
    remember_open_sessions,
    touch_machine_session,
)
from app.lab.state_batch import apply_state_batch
from devices.events import BadgeScan, DecodeError, Event, MachineState

log = logging.getLogger(__name__)

MAX_RAW_KEPT = 512


@dataclass
class BatchOutcome:
    """What a batch did: events applied, duplicates skipped, and which machines changed."""

    applied: int = 0
    duplicates: int = 0
    unroutable: int = 0
    machines: set[int] = field(default_factory=set)
    scans: list[str] = field(default_factory=list)
    replies: list[ScanReply] = field(default_factory=list)
    recorded: set[str] | None = None  # a batch's ids already recorded (see prepare_batch)
    handled: set[int] = field(default_factory=set)  # id() of events the set-based path applied
    loaded: list[object] = field(default_factory=list)  # keeps prepared rows in the session


def _label_id(label: str) -> int | None:
    return int(label) if label.isdigit() and len(label) < 12 else None


def _already_recorded(db: Session, row: DeviceEvent, window_s: float) -> bool:
    """The same id, or for a timeless event the same fingerprint within the window."""
    if db.exec(select(DeviceEvent.id).where(DeviceEvent.event_id == row.event_id)).first():
        return True
    if row.fingerprint is None:
        return False
    window = timedelta(seconds=window_s)
    copy = select(DeviceEvent.id).where(
        DeviceEvent.fingerprint == row.fingerprint,
        col(DeviceEvent.at) >= row.at - window,
        col(DeviceEvent.at) <= row.at + window,
    )
    return db.exec(copy).first() is not None


def _body(event: MachineState) -> str:
    fields = {
        "job": event.job,
        "progress": event.progress,
        "power_w": event.power_w,
        "energy_wh": event.energy_wh,
        "material": event.material,
        "reported_busy_s": event.reported_busy_s,
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None})


def _record_once(db: Session, row: DeviceEvent, rules: ScanRules, outcome: BatchOutcome) -> bool:
    """Insert the event unless it is recorded already; the machine's lock is taken first.

    In a prepared batch the ids recorded before it were read in one statement, and
    the insert waits for the batch's flush (the unique event id still guards it). A
    timeless event (one with a fingerprint) is looked up within the redelivery window.
    """
    if row.machine_id is not None:
        lock_status(db, row.machine_id)
    if outcome.recorded is not None and row.fingerprint is None:
        if row.event_id in outcome.recorded:
            outcome.duplicates += 1
            return False
        outcome.recorded.add(row.event_id)
        db.add(row)
    elif _already_recorded(db, row, rules.redelivery_window_s):
        outcome.duplicates += 1
        return False
    else:
        db.add(row)
        db.flush()
    outcome.applied += 1
    if row.machine_id is not None:
        outcome.machines.add(row.machine_id)
    return True


def _unroutable(db: Session, source: str, reason: str, outcome: BatchOutcome) -> None:
    """An event for a machine or reader that is gone is kept as a reject, not dropped."""
    outcome.unroutable += 1
    record_reject(db, DecodeError(source, reason, b""), utcnow())


def record_machine_state(
    db: Session, event: MachineState, source: str, rules: ScanRules, outcome: BatchOutcome
) -> None:
    """Record and apply one machine-state event labelled with its machine's id."""
    machine_id = _label_id(event.machine)
    machine = db.get(Machine, machine_id) if machine_id is not None else None
    if machine is None or machine.id is None:
        _unroutable(db, source, f"no machine {event.machine!r} to record this state for", outcome)
        return
    row = DeviceEvent(
        event_id=event.event_id,
        kind="machine",
        source=source[:300],
        machine_id=machine.id,
        at=event.at,
        state=event.state.value,
        body=_body(event),
        fingerprint=event.fingerprint,
    )
    if not _record_once(db, row, rules, outcome):
        return
    apply_machine_sample(db, machine, StateSample.from_row(row), rules.grace_s)
    if event.state.value == "offline":
        close_on_offline(db, machine.id, event.at, rules)
    else:
        touch_machine_session(db, machine.id, event.at)
    interlock.reconcile(db, machine, event.at)


def record_badge_scan(
    db: Session, event: BadgeScan, source: str, rules: ScanRules, outcome: BatchOutcome
) -> None:
    """Record and apply one badge scan labelled with its reader's id."""
    reader_id = _label_id(event.reader)
    reader = db.get(Reader, reader_id) if reader_id is not None else None
    if reader is None or reader.id is None:
        _unroutable(db, source, f"no reader {event.reader!r} to record this scan for", outcome)
        return
    row = DeviceEvent(
        event_id=event.event_id,
        kind="badge",
        source=source[:300],
        reader_id=reader.id,
        machine_id=reader.machine_id,
        at=event.at,
        card_id=event.badge,
        fingerprint=event.fingerprint,
    )
    if not _record_once(db, row, rules, outcome):
        return
    if reader.machine_id is not None:
        # A session past its limit is over: the scan is judged as a badge-in, not a badge-out.
        end_overlong_session(db, reader.machine_id, event.at, rules)
    verdict = gate.screen(db, reader, event.badge, event.at)
    if verdict.allowed or verdict.reason == DenyReason.UNKNOWN_CARD:
        # An unknown card also goes through sessions, which keep it for enrolment.
        result = handle_scan(db, reader, event.badge, event.at, event.event_id, rules)
    else:
        result = "denied"
    counted = verdict.allowed or not gate.is_repeat(
        db, reader.id, event.badge, event.at, event.event_id, rules.debounce_s
    )
    if not counted:
        result = "debounced"
    elif not verdict.allowed:
        gate.record_denial(db, reader, event.badge, event.at, event.event_id, verdict)
    outcome.scans.append(result)
    if counted:
        allowed = verdict.allowed and result != "unknown"
        outcome.replies.append(ScanReply(reader.id, allowed, verdict.reason, event.event_id))
    machine = db.get(Machine, reader.machine_id) if reader.machine_id is not None else None
    if machine is not None:
        interlock.reconcile(db, machine, event.at)


def prepare_batch(db: Session, items: list[tuple[Event, str]], rules: ScanRules) -> BatchOutcome:
    """Apply what the set-based path can (`app.lab.state_batch`), then read what the rest
    needs in a few statements: its known event ids, machines, readers, and the status rows
    of its machines, locked in id order (so replicas never deadlock)."""
    fast = apply_state_batch(db, items, rules)
    rest = [e for e, _source in items if id(e) not in fast.handled]
    outcome = _prepare_rest(db, rest) if rest else BatchOutcome()
    outcome.handled = fast.handled
    outcome.applied += fast.applied
    outcome.duplicates += fast.duplicates
    outcome.machines |= fast.machines
    outcome.scans = fast.scans + outcome.scans
    outcome.replies = fast.replies + outcome.replies
    return outcome


def _prepare_rest(db: Session, events: list[Event]) -> BatchOutcome:
    """The ORM path's batch reads (see `prepare_batch`)."""
    ids = {event.event_id for event in events}
    recorded = set(
        db.exec(select(DeviceEvent.event_id).where(col(DeviceEvent.event_id).in_(ids))).all()
    )
    machine_ids = {_label_id(e.machine) for e in events if isinstance(e, MachineState)}
    reader_ids = {_label_id(e.reader) for e in events if isinstance(e, BadgeScan)}
    loaded: list[object] = []
    readers = db.exec(select(Reader).where(col(Reader.id).in_(reader_ids - {None}))).all()
    loaded += readers
    scans = [e for e in events if isinstance(e, BadgeScan)]
    remember_cards(db, {e.badge for e in scans})
    gate.remember_downtime(
        db, {r.machine_id for r in readers if r.machine_id is not None}, [e.at for e in scans]
    )
    machine_ids |= {r.machine_id for r in readers}
    machine_ids.discard(None)
    if machine_ids:
        loaded += db.exec(select(Machine).where(col(Machine.id).in_(machine_ids))).all()
        if db.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks and its driver begins a transaction at the first
            # write: write first, so every read below is made holding the write lock.
            db.exec(
                update(MachineStatus)
                .where(col(MachineStatus.machine_id).in_(machine_ids))
                .values(machine_id=MachineStatus.machine_id)
            )
        statuses = [lock_status(db, m) for m in sorted(m for m in machine_ids if m is not None)]
        run_ids = {s.run_id for s in statuses if s.run_id is not None}
        if run_ids:
            loaded += db.exec(select(MachineRun).where(col(MachineRun.id).in_(run_ids))).all()
        loaded += statuses
        loaded += remember_open_sessions(db, {m for m in machine_ids if m is not None})
    return BatchOutcome(recorded=recorded, loaded=loaded)


def record_event(
    db: Session, event: Event, source: str, rules: ScanRules, outcome: BatchOutcome
) -> None:
    """Record and apply one event of either kind (unless the set-based path applied it)."""
    if id(event) in outcome.handled:
        return
    if isinstance(event, MachineState):
        record_machine_state(db, event, source, rules, outcome)
    else:
        record_badge_scan(db, event, source, rules, outcome)


def record_reject(db: Session, error: DecodeError, received_at: datetime) -> None:
    """Keep a message that did not decode, for review (a bounded number are kept)."""
    db.add(
        DecodeReject(
            source=error.source[:300],
            reason=error.reason[:500],
            raw_hex=error.raw[:MAX_RAW_KEPT].hex(),
            received_at=received_at,
        )
    )
