"""A batch's machine events folded in memory and written with a few Core statements.

The ORM path (`RunFolder` and `handle_scan`, one event at a time) costs several
statements, a unit of work and a flush per event. Here each machine's status,
open run, latest run and sessions are read once per batch, its state samples
and badge scans folded in arrival order in plain Python by the same rules
(`RunFolder`'s here, the gate's and sessions' in `app.lab.scan_batch`), and
everything written back with one `INSERT ... ON CONFLICT DO NOTHING RETURNING`
for the events and a few `INSERT`s and `executemany` updates for sessions,
scans kept, runs and statuses, under the status row locks taken in machine-id
order (so replicas never deadlock). From the first event that needs anything
else (an event timed before one already applied, an interlock, an offline
event while someone is badged in, a late busy report, a run to resume after an
outage, a scan meeting a session past its limit) a machine's events go to the
ORM path, which stays the reference: tests fold the same streams both ways and
compare the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db import utcnow
from app.lab.access.gate import ScanReply
from app.lab.access.models import DeniedScan
from app.lab.activity import (
    DeviceEvent,
    EndReason,
    LabSession,
    MachineRun,
    MachineStatus,
    Provenance,
    RunStatus,
    UnknownScan,
)
from app.lab.batch_rows import HeldMachine, HeldRun, HeldSession, NeedsOrm
from app.lab.driver_rows import insert_new, update_many
from app.lab.models import Machine, Reader
from app.lab.rollups import hour_of, refresh_slices
from app.lab.runs import POWER_ADAPTERS, TERMINAL, UNREPORTED_ENDS
from app.lab.scan_batch import apply_scan, session_rows
from app.lab.scan_book import ScanBook, ScanPlace, read_scan_book
from app.lab.sessions import ScanRules
from devices.events import BadgeScan, Event, MachineState

_E: Table = DeviceEvent.__table__  # type: ignore[attr-defined]
_R: Table = MachineRun.__table__  # type: ignore[attr-defined]
_ST: Table = MachineStatus.__table__  # type: ignore[attr-defined]
_S: Table = LabSession.__table__  # type: ignore[attr-defined]
_M: Table = Machine.__table__  # type: ignore[attr-defined]
_RD: Table = Reader.__table__  # type: ignore[attr-defined]
_US: Table = UnknownScan.__table__  # type: ignore[attr-defined]
_DS: Table = DeniedScan.__table__  # type: ignore[attr-defined]

_RUN_FIELDS = tuple(c.name for c in _R.columns if c.name != "id")
_STATUS_FIELDS = tuple(c.name for c in _ST.columns if c.name != "machine_id")


@dataclass
class StateBatchResult:
    """What the fast path applied; everything else is for the ORM path."""

    handled: set[int] = field(default_factory=set)  # id() of the events it took
    applied: int = 0
    duplicates: int = 0
    machines: set[int] = field(default_factory=set)
    scans: list[str] = field(default_factory=list)  # what each scan taken did, as handle_scan
    replies: list[ScanReply] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Queued:
    """A decoded event of one machine with where it came from (and a scan's reader)."""

    event: MachineState | BadgeScan
    source: str
    place: ScanPlace | None = None


def _label_id(label: str) -> int | None:
    return int(label) if label.isdigit() and len(label) < 12 else None


def _insert(dialect: str, table: Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def lock_statuses(db: Session, machine_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Lock (making them on first use) the status rows of machines, in id order, in one go."""
    wanted = sorted(set(machine_ids))
    if not wanted:
        return {}
    connection = db.connection()
    dialect = connection.dialect.name
    connection.execute(
        _insert(dialect, _ST).on_conflict_do_nothing(index_elements=["machine_id"]),
        [{"machine_id": m, "state": "unknown"} for m in wanted],
    )
    query = select(_ST).where(_ST.c.machine_id.in_(wanted)).order_by(_ST.c.machine_id)
    if dialect == "postgresql":
        query = query.with_for_update()
    return {row.machine_id: dict(row._mapping) for row in connection.execute(query)}


def _readers(connection: Connection, items: list[tuple[Event, str]]) -> dict[int, Any]:
    """The batch's readers at a machine: id, machine and product."""
    reader_ids = {
        r
        for event, _source in items
        if isinstance(event, BadgeScan)
        if (r := _label_id(event.reader)) is not None
    }
    if not reader_ids:
        return {}
    rows = connection.execute(
        select(_RD.c.id, _RD.c.machine_id, _RD.c.product_id).where(_RD.c.id.in_(reader_ids))
    )
    return {row.id: row for row in rows if row.machine_id is not None}


def apply_state_batch(
    db: Session, items: list[tuple[Event, str]], rules: ScanRules
) -> StateBatchResult:
    """Apply what it can of a batch's machine-state events and badge scans; returns what it took.

    `items` is the whole batch in arrival order: each machine's states and scans are
    folded in order up to the first one that needs the ORM path, which takes that one
    and the machine's events after it. Takes the status locks of every machine the
    batch touches in one sorted statement first.
    """
    result = StateBatchResult()
    connection = db.connection()
    dialect = connection.dialect.name
    readers = _readers(connection, items)
    by_machine: dict[int, list[tuple[Event, str, Any]]] = {}
    for event, source in items:
        if isinstance(event, MachineState):
            machine_id = _label_id(event.machine)
            if machine_id is not None:
                by_machine.setdefault(machine_id, []).append((event, source, None))
        elif (reader := readers.get(_label_id(event.reader) or 0)) is not None:
            by_machine.setdefault(reader.machine_id, []).append((event, source, reader))
    known = {
        row.id: row
        for row in connection.execute(
            select(
                _M.c.id,
                _M.c.adapter,
                _M.c.name,
                _M.c.active,
                _M.c.interlock,
                _M.c.interlock_address,
                _M.c.requires_induction,
                _M.c.max_session_s,
            ).where(_M.c.id.in_(by_machine))
        )
    }
    if not known:
        return result
    if dialect == "sqlite":
        # SQLite has no row locks and its driver begins a transaction at the first
        # write: write first, so every read below is made holding the write lock.
        connection.execute(
            update(_ST).where(_ST.c.machine_id.in_(list(known))).values(machine_id=_ST.c.machine_id)
        )
    statuses = lock_statuses(db, known)
    fast: dict[int, list[Queued]] = {}
    for m, arrived in by_machine.items():
        row = known.get(m)
        # The interlock decides relay commands per event: the ORM path keeps that.
        if row is None or (row.active and row.interlock and row.interlock_address):
            continue
        fast[m] = [
            Queued(event, source, _place(reader, row, rules) if reader is not None else None)
            for event, source, reader in arrived
        ]
    if not fast:
        return result
    fresh = _not_recorded(connection, [i for items in fast.values() for i in items], rules)
    machines = _load(connection, fast, known, statuses)
    scans = [
        (m, i.event, i.place)
        for m, queued in fast.items()
        for i in queued
        if isinstance(i.event, BadgeScan) and i.place is not None and id(i) in fresh
    ]
    book = read_scan_book(connection, machines, scans, rules)
    applied: dict[int, list[Queued]] = {}
    for machine_id, queued in fast.items():
        fold = _Fold(machines[machine_id], book, rules)
        taken = queued[: fold.apply_all(queued, fresh)]
        if not taken:
            continue  # the ORM path applies this machine's events, repeats and all
        todo = [i for i in taken if id(i) in fresh]
        applied[machine_id] = todo
        result.handled |= {id(i.event) for i in taken}
        result.duplicates += len(taken) - len(todo)
        result.scans += fold.scans
        result.replies += fold.replies
    if applied:
        _write(db, connection, [machines[m] for m in applied], applied, book)
        result.applied = sum(len(todo) for todo in applied.values())
        result.machines = {m for m, todo in applied.items() if todo}
    return result


def _place(reader: Any, machine: Any, rules: ScanRules) -> ScanPlace:
    return ScanPlace(
        reader.id,
        reader.product_id,
        machine.name,
        bool(machine.requires_induction),
        rules.machine_limit_s(machine.max_session_s),
    )


def _not_recorded(connection: Connection, items: list[Queued], rules: ScanRules) -> set[int]:
    """id() of the events not recorded yet (by id, or a timeless one's fingerprint in the window),
    the first of any repeats within the batch."""
    ids = {i.event.event_id for i in items}
    seen = {
        event_id
        for (event_id,) in connection.execute(select(_E.c.event_id).where(_E.c.event_id.in_(ids)))
    }
    timeless = [i.event for i in items if i.event.fingerprint is not None]
    heard: dict[str, list[datetime]] = {}
    window = timedelta(seconds=rules.redelivery_window_s)
    if timeless:
        # A message that repeats verbatim (an availability) has copies all through the
        # log: only those within the window of this batch's copies count.
        copies = select(_E.c.fingerprint, _E.c.at).where(
            _E.c.fingerprint.in_({e.fingerprint for e in timeless}),
            _E.c.at >= min(e.at for e in timeless) - window,
            _E.c.at <= max(e.at for e in timeless) + window,
        )
        for fingerprint, at in connection.execute(copies):
            heard.setdefault(fingerprint, []).append(at)
    fresh: set[int] = set()
    for item in items:
        event = item.event
        if event.event_id in seen:
            continue
        if event.fingerprint is not None:
            times = heard.setdefault(event.fingerprint, [])
            if any(abs(event.at - at) <= window for at in times):
                continue
            times.append(event.at)
        seen.add(event.event_id)
        fresh.add(id(item))
    return fresh


def _run_from(row: Any) -> HeldRun:
    return HeldRun(**dict(row._mapping))


def _load(
    connection: Connection,
    fast: dict[int, list[Queued]],
    known: dict[int, Any],
    statuses: dict[int, dict[str, Any]],
) -> dict[int, HeldMachine]:
    """Each machine's open run, latest run and the sessions a run could be attributed to."""
    machines = {m: HeldMachine(m, known[m].adapter, statuses[m]) for m in fast}
    # The latest run per machine by the (machine_id, started_at, id) index, one
    # probe each: a window over all of a machine's runs would grow with history.
    inner = _R.alias("latest")
    latest = (
        select(inner.c.id)
        .where(inner.c.machine_id == _M.c.id)
        .order_by(inner.c.started_at.desc(), inner.c.id.desc())
        .limit(1)
        .correlate(_M)
        .scalar_subquery()
    )
    latest_ids = select(latest).where(_M.c.id.in_(list(fast)))
    open_ids = [s["run_id"] for s in statuses.values() if s["run_id"] is not None]
    rows = connection.execute(select(_R).where(or_(_R.c.id.in_(latest_ids), _R.c.id.in_(open_ids))))
    runs: dict[int, HeldRun] = {}
    for row in rows:
        run = _run_from(row)
        assert run.id is not None
        runs[run.id] = run
    for state in machines.values():
        run_id = state.status["run_id"]
        state.run = runs.get(run_id) if run_id is not None else None
        if run_id is not None and state.run is None:
            state.status["run_id"] = None  # a dangling id: as the ORM path, no open run
    for run in runs.values():
        state = machines[run.machine_id]
        if state.latest is None or (run.started_at, run.id or 0) > (
            state.latest.started_at,
            state.latest.id or 0,
        ):
            state.latest = run
        if state.run is not None and state.run.id == run.id:
            state.run = run
    # A run is attributed to a session open at its start or opened within the grace after
    # it; at or after a machine's last event those are open or closed after that event.
    # A scan is judged against the sessions open or closed after it (`scan_batch`).
    lasts = [s["last_event_at"] for s in statuses.values()]
    lasts += [i.event.at for queued in fast.values() for i in queued if i.place is not None]
    since = None if any(last is None for last in lasts) else min(lasts)
    query = select(
        _S.c.id,
        _S.c.machine_id,
        _S.c.contributor_id,
        _S.c.product_id,
        _S.c.opened_at,
        _S.c.closed_at,
        _S.c.last_activity_at,
        _S.c.close_reason,
        _S.c.closed_by,
    ).where(_S.c.machine_id.in_(list(fast)))
    if since is not None:
        # ... and the sessions the open runs were given (a grace claim is checked at the end).
        given = [m.run.session_id for m in machines.values() if m.run and m.run.session_id]
        query = query.where(
            or_(_S.c.closed_at.is_(None), _S.c.closed_at > since, _S.c.id.in_(given))
        )
    for row in connection.execute(query):
        machines[row.machine_id].sessions.append(
            HeldSession(
                row.id,
                row.contributor_id,
                row.product_id,
                row.opened_at,
                row.closed_at,
                row.last_activity_at,
                row.close_reason,
                row.closed_by,
            )
        )
    return machines


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


class _Fold:
    """`RunFolder`'s rules (and `scan_batch`'s for scans) over rows in memory, up to the
    first event that needs the database."""

    def __init__(self, machine: HeldMachine, book: ScanBook, rules: ScanRules) -> None:
        self.m = machine
        self.book = book
        self.rules = rules
        self.grace_s = rules.grace_s
        self.scans: list[str] = []
        self.replies: list[ScanReply] = []

    def apply_all(self, items: list[Queued], fresh: set[int]) -> int:
        """Fold the events up to the first one that needs the ORM path; returns how many
        of `items` (repeats included) were taken. Each check is made before anything of
        its event is changed, so the rows hold exactly the events taken."""
        status = self.m.status
        for taken, item in enumerate(items):
            if id(item) not in fresh:
                continue  # recorded already: a no-op, as on the ORM path
            event = item.event
            if isinstance(event, BadgeScan):
                assert item.place is not None
                try:
                    done, reply = apply_scan(
                        self.m, event, item.place, self.book, self.grace_s, self.rules.debounce_s
                    )
                except NeedsOrm:
                    return taken
                self.scans.append(done)
                if reply is not None:
                    self.replies.append(reply)
                continue
            last = status["last_event_at"]
            if last is not None and event.at < last:
                return taken  # out of order: the ORM path refolds from the log
            open_session = self.m.open_session()
            if event.state.value == "offline" and open_session is not None:
                return taken  # closing a session (limits, rollups): the ORM path's job
            try:
                self.apply(event)
            except NeedsOrm:
                return taken
            if (
                event.state.value != "offline"
                and open_session is not None
                and event.at > open_session.last_activity_at
            ):
                self.m.touch_session(open_session)
                open_session.last_activity_at = event.at
        return len(items)

    def apply(self, event: MachineState) -> None:
        run = self.m.run
        if run is not None:
            self.m.touch_run(run)
        state = event.state.value
        if state == "running":
            run = self._resume_or_open(run, event)
        elif state == "paused":
            run = self._pause(run, event)
        elif state in TERMINAL and run is not None:
            self._end(run, event, TERMINAL[state])
            run = None
        elif state in TERMINAL and event.reported_busy_s is not None:
            raise NeedsOrm  # a late busy report corrects an ended run: the ORM path
        elif state == "idle" and run is not None:
            reason = EndReason.FINISHED if self.m.adapter in POWER_ADAPTERS else EndReason.ABANDONED
            self._end(run, event, reason)
            run = None
        elif state == "offline" and run is not None:
            self._end_offline(run, event)
            run = None
        if run is not None:
            run.last_sample_at = max(run.last_sample_at, event.at)
            if event.progress is not None:
                run.progress = event.progress
            if event.job:
                run.job = event.job[:500]
        self.m.run = run
        status = self.m.status
        if status["state"] != state:
            status["state"] = state
            status["since"] = event.at
        status["last_event_at"] = event.at
        status["last_event_id"] = event.event_id
        status["progress"] = run.progress if run is not None else None
        status["job"] = run.job if run is not None else None
        if event.power_w is not None:
            status["power_w"] = event.power_w

    def _resume_or_open(self, run: HeldRun | None, event: MachineState) -> HeldRun:
        if run is not None:
            if run.status == RunStatus.PAUSED:
                run.status = RunStatus.RUNNING
                run.busy_since = event.at
            return run
        latest = self.m.latest
        if latest is not None:
            if latest.started_at > event.at:
                raise NeedsOrm  # a run after this event: not the simple in-order case
            if latest.end_reason == EndReason.OFFLINE and latest.ended_at is not None:
                raise NeedsOrm  # perhaps a run to resume after an outage: the ORM path decides
        return self._open(event, RunStatus.RUNNING)

    def _pause(self, run: HeldRun | None, event: MachineState) -> HeldRun:
        if run is None:
            run = self._open(event, RunStatus.PAUSED)
            run.flagged = True
            run.flag_reason = "first seen paused: its start was not observed"
            return run
        if run.status == RunStatus.RUNNING and run.busy_since is not None:
            run.busy_s += _seconds(event.at, run.busy_since)
            run.busy_since = None
            run.status = RunStatus.PAUSED
        return run

    def _open(self, event: MachineState, status: RunStatus) -> HeldRun:
        latest = self.m.latest
        if latest is not None and latest.started_at > event.at:
            raise NeedsOrm
        run = HeldRun(
            machine_id=self.m.id,
            status=status,
            started_at=event.at,
            start_event_id=event.event_id,
            last_sample_at=event.at,
            busy_since=event.at if status == RunStatus.RUNNING else None,
            job=event.job[:500] if event.job else None,
        )
        session, attribution = self._session_at(event.at), "session"
        if session is None:
            session, attribution = self._session_opened_within(event.at), "grace"
        if session is not None:
            run.operator_id = session.contributor_id
            run.product_id = session.product_id
            run.session_id = session.id
            run.attribution = attribution
        self.m.latest = run
        return self.m.touch_run(run)

    def _session_at(self, at: datetime) -> HeldSession | None:
        found = [
            s
            for s in self.m.sessions
            if s.opened_at <= at and (s.closed_at is None or s.closed_at > at)
        ]
        return max(found, key=lambda s: s.opened_at) if found else None

    def _session_opened_within(self, at: datetime) -> HeldSession | None:
        until = at + timedelta(seconds=self.grace_s)
        found = [s for s in self.m.sessions if at < s.opened_at <= until]
        return min(found, key=lambda s: s.opened_at) if found else None

    def _grace_session(self, run: HeldRun) -> HeldSession | None:
        """The session a grace-attributed run was given to (checked before a run ends)."""
        if run.attribution != "grace" or run.session_id is None:
            return None
        session = next((s for s in self.m.sessions if s.id == run.session_id), None)
        if session is None:
            raise NeedsOrm  # its session is not among those read: the ORM path looks it up
        return session

    def _drop_grace_after_end(self, run: HeldRun, session: HeldSession | None) -> None:
        if session is None or run.ended_at is None:
            return
        if session.opened_at >= run.ended_at:
            run.operator_id = run.product_id = run.session_id = run.attribution = None

    def _end(self, run: HeldRun, event: MachineState, reason: EndReason) -> None:
        session = self._grace_session(run)
        if run.status == RunStatus.RUNNING and run.busy_since is not None:
            run.busy_s += _seconds(event.at, run.busy_since)
        run.busy_since = None
        run.status = RunStatus.ENDED
        run.ended_at = event.at
        run.last_sample_at = max(run.last_sample_at, event.at)
        run.end_reason = reason
        run.provenance = Provenance.MEASURED
        if event.reported_busy_s is not None:
            run.reported_busy_s = event.reported_busy_s
            run.busy_s = event.reported_busy_s
            run.provenance = Provenance.DEVICE_REPORTED
        if event.energy_wh is not None:
            run.energy_wh = event.energy_wh
        if event.material is not None:
            run.material = event.material
        if event.progress is not None:
            run.progress = event.progress
        if reason in UNREPORTED_ENDS:
            run.flagged = True
            run.flag_reason = UNREPORTED_ENDS[reason]
        self._drop_grace_after_end(run, session)

    def _end_offline(self, run: HeldRun, event: MachineState) -> None:
        session = self._grace_session(run)
        if event.power_w is not None or event.energy_wh is not None:
            run.last_sample_at = max(run.last_sample_at, event.at)
            if event.energy_wh is not None:
                run.energy_wh = event.energy_wh
            if event.material is not None:
                run.material = event.material
        if run.status == RunStatus.RUNNING and run.busy_since is not None:
            run.busy_s += _seconds(run.last_sample_at, run.busy_since)
        run.busy_since = None
        run.status = RunStatus.ENDED
        run.ended_at = run.last_sample_at
        run.end_reason = EndReason.OFFLINE
        run.provenance = Provenance.CLOSED_AT_LAST_SAMPLE
        run.flagged = True
        run.flag_reason = "device went offline during the run"
        self._drop_grace_after_end(run, session)


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


_EVENT_COLUMNS = (
    "event_id",
    "kind",
    "source",
    "machine_id",
    "reader_id",
    "at",
    "received_at",
    "state",
    "card_id",
    "body",
    "fingerprint",
)


def _event_row(machine_id: int, item: Queued, received: datetime) -> tuple[Any, ...]:
    """An event's values in `_EVENT_COLUMNS` order."""
    event = item.event
    scan = isinstance(event, BadgeScan)
    return (
        event.event_id,
        "badge" if scan else "machine",
        item.source[:300],
        machine_id,
        item.place.reader_id if item.place is not None else None,
        event.at,
        received,
        None if isinstance(event, BadgeScan) else event.state.value,
        event.badge if isinstance(event, BadgeScan) else None,
        "{}" if isinstance(event, BadgeScan) else _body(event),
        event.fingerprint,
    )


def _write(
    db: Session,
    connection: Connection,
    machines: list[HeldMachine],
    applied: dict[int, list[Queued]],
    book: ScanBook,
) -> None:
    """Events and kept scans, then sessions (closed first, then opened, for their ids), then
    runs and statuses."""
    received = utcnow()
    rows = [_event_row(m, i, received) for m, todo in applied.items() for i in todo]
    if insert_new(connection, _E, "event_id", _EVENT_COLUMNS, rows) != len(rows):
        # Under the status locks nobody else records these machines' events: a
        # conflict means the batch must be applied again by the message-by-message path.
        raise RuntimeError("an event of a locked machine was recorded meanwhile")
    for table, kept in ((_US, book.unknown_rows), (_DS, book.denied_rows)):
        if kept:
            connection.execute(table.insert(), kept)
    session_slices = _write_sessions(connection, machines)
    old = [run for m in machines for run in m.touched_runs.values() if run.id is not None]
    new = [run for m in machines for run in m.touched_runs.values() if run.id is None]
    if new:
        ids = connection.execute(
            _R.insert().returning(_R.c.id, sort_by_parameter_order=True),
            [{name: getattr(run, name) for name in _RUN_FIELDS} for run in new],
        ).all()
        for run, (run_id,) in zip(new, ids, strict=True):
            run.id = run_id
    update_many(
        connection,
        _R,
        "id",
        _RUN_FIELDS,
        [(*(getattr(run, name) for name in _RUN_FIELDS), run.id) for run in old],
    )
    for m in machines:
        m.status["run_id"] = m.run.id if m.run is not None else None
    update_many(
        connection,
        _ST,
        "machine_id",
        _STATUS_FIELDS,
        [(*(m.status[name] for name in _STATUS_FIELDS), m.id) for m in machines],
    )
    slices: set[tuple[int, datetime]] = set()
    for m in machines:
        for key, run in m.touched_runs.items():
            for moment in (m.ended_before.get(key), run.ended_at):
                if moment is not None:
                    slices.add((m.id, hour_of(moment)))
    refresh_slices(db, slices, session_slices)


def _write_sessions(
    connection: Connection, machines: list[HeldMachine]
) -> set[tuple[int, datetime]]:
    """Sessions read and changed (closed, or active later), then those opened in the batch
    (at most one still open per machine), whose ids the runs they were given then take.
    Returns the session rollup slices they changed, refreshed with the runs' once."""
    old = [s for m in machines for s in m.touched_sessions.values() if s.new is None]
    new = [s for m in machines for s in m.touched_sessions.values() if s.new is not None]
    names = ("closed_at", "close_reason", "closed_by", "last_activity_at")
    update_many(
        connection, _S, "id", names, [(*(getattr(s, name) for name in names), s.id) for s in old]
    )
    if new:
        ids = connection.execute(
            _S.insert().returning(_S.c.id, sort_by_parameter_order=True), session_rows(new)
        ).all()
        real = {s.id: session_id for s, (session_id,) in zip(new, ids, strict=True)}
        for s in new:
            s.id = real[s.id]
        for m in machines:
            for run in m.touched_runs.values():
                if run.session_id is not None and run.session_id < 0:
                    run.session_id = real[run.session_id]
    slices: set[tuple[int, datetime]] = set()
    for m in machines:
        for key, session in m.touched_sessions.items():
            for moment in (m.closed_before.get(key), session.closed_at):
                if moment is not None:
                    slices.add((session.contributor_id, hour_of(moment)))
    return slices
