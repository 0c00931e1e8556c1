"""A batch's machine-state events folded in memory and written with a few Core statements.

The ORM path (`RunFolder`, one event at a time) costs several statements, a
unit of work and a flush per event. Here each machine whose events in a batch
are all in-order state samples has its status, open run, latest run and
sessions read once, its events folded in plain Python by the same rules as
`RunFolder`, and everything written back with one `INSERT ... ON CONFLICT DO
NOTHING RETURNING` for the events and `executemany` statements for runs,
statuses and sessions, under the status row locks taken in machine-id order
(so replicas never deadlock). A machine whose batch needs anything else (a
badge scan, an event timed before one already applied, an interlock, an
offline event while someone is badged in, a late busy report, a run to resume
after an outage) is left whole to the ORM path, which stays the reference: a
test folds the same streams both ways and compares the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db import utcnow
from app.lab.activity import (
    DeviceEvent,
    EndReason,
    LabSession,
    MachineRun,
    MachineStatus,
    Provenance,
    RunStatus,
)
from app.lab.models import Machine, Reader
from app.lab.rollups import hour_of, refresh_run_slices
from app.lab.runs import POWER_ADAPTERS, TERMINAL, UNREPORTED_ENDS
from devices.events import BadgeScan, Event, MachineState

_E: Table = DeviceEvent.__table__  # type: ignore[attr-defined]
_R: Table = MachineRun.__table__  # type: ignore[attr-defined]
_ST: Table = MachineStatus.__table__  # type: ignore[attr-defined]
_S: Table = LabSession.__table__  # type: ignore[attr-defined]
_M: Table = Machine.__table__  # type: ignore[attr-defined]
_RD: Table = Reader.__table__  # type: ignore[attr-defined]

_RUN_FIELDS = tuple(c.name for c in _R.columns if c.name != "id")
_STATUS_FIELDS = tuple(c.name for c in _ST.columns if c.name != "machine_id")


class _Bail(Exception):
    """This machine's batch needs the ORM path."""


@dataclass(slots=True, eq=False)
class _Run:
    """A machine_run row held in memory while a batch is folded."""

    machine_id: int
    status: str
    started_at: datetime
    last_sample_at: datetime
    start_event_id: str
    id: int | None = None
    ended_at: datetime | None = None
    busy_since: datetime | None = None
    busy_s: float = 0.0
    end_reason: str | None = None
    provenance: str | None = None
    flagged: bool = False
    flag_reason: str | None = None
    job: str | None = None
    progress: float | None = None
    energy_wh: float | None = None
    material: float | None = None
    reported_busy_s: float | None = None
    operator_id: int | None = None
    product_id: int | None = None
    session_id: int | None = None
    attribution: str | None = None


@dataclass(slots=True, eq=False)
class _Session:
    id: int
    contributor_id: int
    product_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    last_activity_at: datetime


@dataclass
class _Machine:
    """One machine's rows as read, and as folded so far."""

    id: int
    adapter: str
    status: dict[str, Any]
    run: _Run | None = None
    latest: _Run | None = None  # the run started last, for the offline-resume rule
    sessions: list[_Session] = field(default_factory=list)
    touched_runs: dict[int, _Run] = field(default_factory=dict)  # by id(): loaded and new
    ended_before: dict[int, datetime | None] = field(default_factory=dict)
    touched_session: _Session | None = None


@dataclass
class StateBatchResult:
    """What the fast path applied; everything else is for the ORM path."""

    handled: set[int] = field(default_factory=set)  # id() of the events it took
    applied: int = 0
    duplicates: int = 0
    machines: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class StateEvent:
    """A decoded machine-state event with where it came from."""

    event: MachineState
    source: str


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


def apply_state_batch(
    db: Session, items: list[tuple[Event, str]], grace_s: float, window_s: float
) -> StateBatchResult:
    """Apply what it can of a batch's machine-state events; returns what it took.

    `items` is the whole batch in arrival order (badge scans too): a machine's state
    events before its first scan in the batch can be taken, the rest are the ORM
    path's. Takes the status locks of every machine the batch touches (also those of
    the badge readers' machines, which the ORM path will ask for again) in one
    sorted statement first.
    """
    result = StateBatchResult()
    connection = db.connection()
    dialect = connection.dialect.name
    reader_ids = {
        r
        for event, _source in items
        if isinstance(event, BadgeScan)
        if (r := _label_id(event.reader)) is not None
    }
    reader_machine: dict[int, int] = {}
    if reader_ids:
        reader_machine = {
            r: m
            for r, m in connection.execute(
                select(_RD.c.id, _RD.c.machine_id).where(_RD.c.id.in_(reader_ids))
            )
            if m is not None
        }
    by_machine: dict[int, list[StateEvent]] = {}
    scanned: set[int] = set()
    for event, source in items:
        if isinstance(event, MachineState):
            machine_id = _label_id(event.machine)
            if machine_id is not None and machine_id not in scanned:
                by_machine.setdefault(machine_id, []).append(StateEvent(event, source))
        else:
            reader_id = _label_id(event.reader)
            if reader_id in reader_machine:
                scanned.add(reader_machine[reader_id])  # later states follow this scan
    known = {
        row.id: row
        for row in connection.execute(
            select(
                _M.c.id,
                _M.c.adapter,
                _M.c.active,
                _M.c.interlock,
                _M.c.interlock_address,
            ).where(_M.c.id.in_(set(by_machine) | scanned))
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
    fast = {
        m: by_machine[m]
        for m in by_machine
        if m in known
        # The interlock decides relay commands per event: the ORM path keeps that.
        and not (known[m].active and known[m].interlock and known[m].interlock_address)
    }
    if not fast:
        return result
    fresh = _not_recorded(connection, [i for items in fast.values() for i in items], window_s)
    machines = _load(connection, fast, known, statuses)
    applied: dict[int, list[StateEvent]] = {}
    for machine_id, queued in fast.items():
        taken = queued[: _Fold(machines[machine_id], grace_s).apply_all(queued, fresh)]
        if not taken:
            continue  # the ORM path applies this machine's events, repeats and all
        todo = [i for i in taken if id(i) in fresh]
        applied[machine_id] = todo
        result.handled |= {id(i.event) for i in taken}
        result.duplicates += len(taken) - len(todo)
    if applied:
        _write(db, connection, [machines[m] for m in applied], applied)
        result.applied = sum(len(todo) for todo in applied.values())
        result.machines = {m for m, todo in applied.items() if todo}
    return result


def _not_recorded(connection: Connection, items: list[StateEvent], window_s: float) -> set[int]:
    """id() of the events not recorded yet (by id, or a timeless one's fingerprint in the window),
    the first of any repeats within the batch."""
    ids = {i.event.event_id for i in items}
    seen = {
        event_id
        for (event_id,) in connection.execute(select(_E.c.event_id).where(_E.c.event_id.in_(ids)))
    }
    timeless = [i.event for i in items if i.event.fingerprint is not None]
    heard: dict[str, list[datetime]] = {}
    window = timedelta(seconds=window_s)
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


def _run_from(row: Any) -> _Run:
    return _Run(**dict(row._mapping))


def _load(
    connection: Connection,
    fast: dict[int, list[StateEvent]],
    known: dict[int, Any],
    statuses: dict[int, dict[str, Any]],
) -> dict[int, _Machine]:
    """Each machine's open run, latest run and the sessions a run could be attributed to."""
    machines = {m: _Machine(m, known[m].adapter, statuses[m]) for m in fast}
    ranked = (
        select(
            _R,
            func.row_number()
            .over(partition_by=_R.c.machine_id, order_by=(_R.c.started_at.desc(), _R.c.id.desc()))
            .label("rank"),
        )
        .where(_R.c.machine_id.in_(list(fast)))
        .subquery()
    )
    open_ids = [s["run_id"] for s in statuses.values() if s["run_id"] is not None]
    rows = connection.execute(
        select(*[ranked.c[c.name] for c in _R.columns]).where(
            or_(ranked.c.rank == 1, ranked.c.id.in_(open_ids))
        )
    )
    runs: dict[int, _Run] = {}
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
    lasts = [s["last_event_at"] for s in statuses.values()]
    since = None if any(last is None for last in lasts) else min(lasts)
    query = select(
        _S.c.id,
        _S.c.machine_id,
        _S.c.contributor_id,
        _S.c.product_id,
        _S.c.opened_at,
        _S.c.closed_at,
        _S.c.last_activity_at,
    ).where(_S.c.machine_id.in_(list(fast)))
    if since is not None:
        # ... and the sessions the open runs were given (a grace claim is checked at the end).
        given = [m.run.session_id for m in machines.values() if m.run and m.run.session_id]
        query = query.where(
            or_(_S.c.closed_at.is_(None), _S.c.closed_at > since, _S.c.id.in_(given))
        )
    for row in connection.execute(query):
        machines[row.machine_id].sessions.append(
            _Session(
                row.id,
                row.contributor_id,
                row.product_id,
                row.opened_at,
                row.closed_at,
                row.last_activity_at,
            )
        )
    return machines


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


class _Fold:
    """`RunFolder`'s rules over rows in memory; raises `_Bail` where it would need the database."""

    def __init__(self, machine: _Machine, grace_s: float) -> None:
        self.m = machine
        self.grace_s = grace_s

    def apply_all(self, items: list[StateEvent], fresh: set[int]) -> int:
        """Fold the events up to the first one that needs the ORM path; returns how many
        of `items` (repeats included) were taken. Each check is made before anything of
        its event is changed, so the rows hold exactly the events taken."""
        status = self.m.status
        for taken, item in enumerate(items):
            if id(item) not in fresh:
                continue  # recorded already: a no-op, as on the ORM path
            event = item.event
            last = status["last_event_at"]
            if last is not None and event.at < last:
                return taken  # out of order: the ORM path refolds from the log
            open_session = self._open_session()
            if event.state.value == "offline" and open_session is not None:
                return taken  # closing a session (limits, rollups): the ORM path's job
            try:
                self.apply(event)
            except _Bail:
                return taken
            if (
                event.state.value != "offline"
                and open_session is not None
                and event.at > open_session.last_activity_at
            ):
                open_session.last_activity_at = event.at
                self.m.touched_session = open_session
        return len(items)

    def _open_session(self) -> _Session | None:
        return next((s for s in self.m.sessions if s.closed_at is None), None)

    def _touch(self, run: _Run) -> _Run:
        key = id(run)
        if key not in self.m.touched_runs:
            self.m.touched_runs[key] = run
            self.m.ended_before[key] = run.ended_at
        return run

    def apply(self, event: MachineState) -> None:
        run = self.m.run
        if run is not None:
            self._touch(run)
        state = event.state.value
        if state == "running":
            run = self._resume_or_open(run, event)
        elif state == "paused":
            run = self._pause(run, event)
        elif state in TERMINAL and run is not None:
            self._end(run, event, TERMINAL[state])
            run = None
        elif state in TERMINAL and event.reported_busy_s is not None:
            raise _Bail  # a late busy report corrects an ended run: the ORM path
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

    def _resume_or_open(self, run: _Run | None, event: MachineState) -> _Run:
        if run is not None:
            if run.status == RunStatus.PAUSED:
                run.status = RunStatus.RUNNING
                run.busy_since = event.at
            return run
        latest = self.m.latest
        if latest is not None:
            if latest.started_at > event.at:
                raise _Bail  # a run after this event: not the simple in-order case
            if latest.end_reason == EndReason.OFFLINE and latest.ended_at is not None:
                raise _Bail  # perhaps a run to resume after an outage: the ORM path decides
        return self._open(event, RunStatus.RUNNING)

    def _pause(self, run: _Run | None, event: MachineState) -> _Run:
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

    def _open(self, event: MachineState, status: RunStatus) -> _Run:
        latest = self.m.latest
        if latest is not None and latest.started_at > event.at:
            raise _Bail
        run = _Run(
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
        return self._touch(run)

    def _session_at(self, at: datetime) -> _Session | None:
        found = [
            s
            for s in self.m.sessions
            if s.opened_at <= at and (s.closed_at is None or s.closed_at > at)
        ]
        return max(found, key=lambda s: s.opened_at) if found else None

    def _session_opened_within(self, at: datetime) -> _Session | None:
        until = at + timedelta(seconds=self.grace_s)
        found = [s for s in self.m.sessions if at < s.opened_at <= until]
        return min(found, key=lambda s: s.opened_at) if found else None

    def _grace_session(self, run: _Run) -> _Session | None:
        """The session a grace-attributed run was given to (checked before a run ends)."""
        if run.attribution != "grace" or run.session_id is None:
            return None
        session = next((s for s in self.m.sessions if s.id == run.session_id), None)
        if session is None:
            raise _Bail  # its session is not among those read: the ORM path looks it up
        return session

    def _drop_grace_after_end(self, run: _Run, session: _Session | None) -> None:
        if session is None or run.ended_at is None:
            return
        if session.opened_at >= run.ended_at:
            run.operator_id = run.product_id = run.session_id = run.attribution = None

    def _end(self, run: _Run, event: MachineState, reason: EndReason) -> None:
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

    def _end_offline(self, run: _Run, event: MachineState) -> None:
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


def _typed(table: Table, names: Iterable[str]) -> dict[str, Any]:
    return {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names}


def _write(
    db: Session,
    connection: Connection,
    machines: list[_Machine],
    applied: dict[int, list[StateEvent]],
) -> None:
    """Events, then new runs (for their ids), then changed runs, statuses and sessions."""
    dialect = connection.dialect.name
    received = utcnow()
    rows = [
        {
            "event_id": i.event.event_id,
            "kind": "machine",
            "source": i.source[:300],
            "machine_id": machine_id,
            "reader_id": None,
            "at": i.event.at,
            "received_at": received,
            "state": i.event.state.value,
            "card_id": None,
            "body": _body(i.event),
            "fingerprint": i.event.fingerprint,
        }
        for machine_id, todo in applied.items()
        for i in todo
    ]
    if rows:
        inserted = connection.execute(
            _insert(dialect, _E)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(_E.c.event_id),
            rows,
        ).all()
        if len(inserted) != len(rows):
            # Under the status locks nobody else records these machines' events: a
            # conflict means the batch must be applied again by the message-by-message path.
            raise RuntimeError("an event of a locked machine was recorded meanwhile")
    old = [run for m in machines for run in m.touched_runs.values() if run.id is not None]
    new = [run for m in machines for run in m.touched_runs.values() if run.id is None]
    if new:
        ids = connection.execute(
            _R.insert().returning(_R.c.id, sort_by_parameter_order=True),
            [{name: getattr(run, name) for name in _RUN_FIELDS} for run in new],
        ).all()
        for run, (run_id,) in zip(new, ids, strict=True):
            run.id = run_id
    if old:
        connection.execute(
            update(_R).where(_R.c.id == bindparam("v_key")).values(_typed(_R, _RUN_FIELDS)),
            [
                {"v_key": run.id, **{f"v_{name}": getattr(run, name) for name in _RUN_FIELDS}}
                for run in old
            ],
        )
    statuses = []
    for m in machines:
        m.status["run_id"] = m.run.id if m.run is not None else None
        statuses.append({"v_key": m.id, **{f"v_{name}": m.status[name] for name in _STATUS_FIELDS}})
    connection.execute(
        update(_ST)
        .where(_ST.c.machine_id == bindparam("v_key"))
        .values(_typed(_ST, _STATUS_FIELDS)),
        statuses,
    )
    touched = [m.touched_session for m in machines if m.touched_session is not None]
    if touched:
        connection.execute(
            update(_S)
            .where(_S.c.id == bindparam("v_key"))
            .values(_typed(_S, ["last_activity_at"])),
            [{"v_key": s.id, "v_last_activity_at": s.last_activity_at} for s in touched],
        )
    slices: set[tuple[int, datetime]] = set()
    for m in machines:
        for key, run in m.touched_runs.items():
            for moment in (m.ended_before.get(key), run.ended_at):
                if moment is not None:
                    slices.add((m.id, hour_of(moment)))
    if slices:
        refresh_run_slices(db, slices)
