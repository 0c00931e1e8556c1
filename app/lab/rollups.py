"""Hourly rollups of ended runs and closed sessions, kept current as they change.

Dashboards read these instead of the (ever-growing) run and session tables, so
a month's figures cost the same at ten thousand or ten million runs.

- `run_hour`: ended runs by the hour they ended in, per machine, machine
  provider, operator, product, operator role and end reason: count, busy and
  wall seconds, energy, material.
- `session_hour`: closed sessions by the hour they closed in, per contributor,
  machine, product and role: count and seconds present.

Every flush that adds, changes or deletes a run or a session notes the
(machine, hour) or (contributor, hour) slices it touches, old and new; just
before the transaction commits, they are recomputed once, in it: all of them
with one DELETE and one INSERT ... SELECT (per chunk of nearby hours),
statements built once per dialect; on PostgreSQL under a transaction-scoped
advisory lock per slice, all taken in one statement in a fixed order, so two
writers of one slice take turns. That catches every path (closing, refolding,
late busy reports, manual assignment, product tagging) without each having to
remember.
`rebuild` recomputes every row with the very same SELECT, for repairs and bulk
imports that bypass the ORM. Each refresh also recomputes the daily rows
(`app.lab.rollup_days`) of the machines, people and products whose hourly rows
it changed, before and after.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql import Select
from sqlmodel import Field, Session, SQLModel

from app.db import UTCDateTime
from app.lab.activity import LabSession, MachineRun
from app.lab.models import Contributor, Machine
from app.lab.rollup_days import (
    day_of,
    group_params,
    in_groups,
    in_keys,
    lock_all,
    rebuild_days,
    refresh_days,
)

_R = MachineRun.__table__  # type: ignore[attr-defined]
_S = LabSession.__table__  # type: ignore[attr-defined]
_M = Machine.__table__  # type: ignore[attr-defined]
_P = Contributor.__table__  # type: ignore[attr-defined]

# The slices are found by these: a machine's runs by end, a contributor's sessions by close.
Index("ix_machine_run_machine_ended", _R.c.machine_id, _R.c.ended_at)
Index("ix_lab_session_contributor_closed", _S.c.contributor_id, _S.c.closed_at)


class RunHour(SQLModel, table=True):
    """Ended runs of one machine in one hour, per operator, product, role and end reason."""

    __tablename__ = "run_hour"
    __table_args__ = (
        Index("ix_run_hour_hour_machine", "hour", "machine_id"),
        Index("ix_run_hour_machine_hour", "machine_id", "hour"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hour: datetime = Field(sa_type=UTCDateTime)
    machine_id: int = Field(foreign_key="machine.id")
    provider_id: int | None = Field(default=None)
    operator_id: int | None = Field(default=None, index=True)
    product_id: int | None = Field(default=None, index=True)
    role: str | None = Field(default=None, max_length=50)
    end_reason: str | None = Field(default=None, max_length=16)
    runs: int = Field(sa_column=Column(Integer, nullable=False))
    busy_s: float = Field(sa_column=Column(Float, nullable=False))
    wall_s: float = Field(sa_column=Column(Float, nullable=False))
    energy_wh: float = Field(sa_column=Column(Float, nullable=False))
    material: float = Field(sa_column=Column(Float, nullable=False))


class SessionHour(SQLModel, table=True):
    """Closed sessions of one contributor in one hour, per machine, product and role."""

    __tablename__ = "session_hour"
    __table_args__ = (
        Index("ix_session_hour_hour_contributor", "hour", "contributor_id"),
        Index("ix_session_hour_contributor_hour", "contributor_id", "hour"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hour: datetime = Field(sa_type=UTCDateTime)
    contributor_id: int = Field(foreign_key="contributor.id")
    machine_id: int | None = Field(default=None, index=True)
    product_id: int | None = Field(default=None, index=True)
    role: str | None = Field(default=None, max_length=50)
    sessions: int = Field(sa_column=Column(Integer, nullable=False))
    seconds: float = Field(sa_column=Column(Float, nullable=False))


_RH = RunHour.__table__  # type: ignore[attr-defined]
_SH = SessionHour.__table__  # type: ignore[attr-defined]


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_expr(dialect: str, column: Any) -> ColumnElement[Any]:
    """The hour `column` falls in, in the form the dialect stores timestamps in."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00.000000", column)
    return func.date_trunc("hour", column, "UTC")


def _seconds_expr(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Seconds between two timestamps, to the millisecond (SQLite's julianday is not exact)."""
    if dialect == "sqlite":
        return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)
    return func.round(func.extract("epoch", later - earlier), 3)


def _run_select(dialect: str) -> Select[Any]:
    hour = _hour_expr(dialect, _R.c.ended_at)
    role = func.coalesce(_S.c.role, _P.c.role)
    return (
        select(
            hour,
            _R.c.machine_id,
            _M.c.provider_id,
            _R.c.operator_id,
            _R.c.product_id,
            role,
            _R.c.end_reason,
            func.count(),
            func.coalesce(func.sum(_R.c.busy_s), 0.0),
            func.coalesce(func.sum(_seconds_expr(dialect, _R.c.ended_at, _R.c.started_at)), 0.0),
            func.coalesce(func.sum(_R.c.energy_wh), 0.0),
            func.coalesce(func.sum(_R.c.material), 0.0),
        )
        .select_from(
            _R.join(_M, _M.c.id == _R.c.machine_id)
            .outerjoin(_S, _S.c.id == _R.c.session_id)
            .outerjoin(_P, _P.c.id == _R.c.operator_id)
        )
        .where(_R.c.ended_at.is_not(None))
        .group_by(
            hour,
            _R.c.machine_id,
            _M.c.provider_id,
            _R.c.operator_id,
            _R.c.product_id,
            role,
            _R.c.end_reason,
        )
    )


def _session_select(dialect: str) -> Select[Any]:
    hour = _hour_expr(dialect, _S.c.closed_at)
    return (
        select(
            hour,
            _S.c.contributor_id,
            _S.c.machine_id,
            _S.c.product_id,
            _S.c.role,
            func.count(),
            func.coalesce(func.sum(_seconds_expr(dialect, _S.c.closed_at, _S.c.opened_at)), 0.0),
        )
        .where(_S.c.closed_at.is_not(None))
        .group_by(hour, _S.c.contributor_id, _S.c.machine_id, _S.c.product_id, _S.c.role)
    )


_RUN_COLUMNS = [
    "hour",
    "machine_id",
    "provider_id",
    "operator_id",
    "product_id",
    "role",
    "end_reason",
    "runs",
    "busy_s",
    "wall_s",
    "energy_wh",
    "material",
]
_SESSION_COLUMNS = [
    "hour",
    "contributor_id",
    "machine_id",
    "product_id",
    "role",
    "sessions",
    "seconds",
]


@dataclass(frozen=True)
class _SliceStatements:
    """A refresh's statements for one kind of slice and dialect, built once.

    Each reads the chunk bound as `ids`, `lo`, `hi` and `keys` (`in_keys`).
    """

    owners: Any  # the slices' rows' (hour, contributors or products) before and after
    delete: Any
    insert: Any


@cache
def _run_statements(dialect: str) -> _SliceStatements:
    hour = _hour_expr(dialect, _R.c.ended_at)
    in_slices = in_keys(_RH.c.machine_id, _RH.c.hour, _RH.c.hour)
    return _SliceStatements(
        select(_RH.c.hour, _RH.c.operator_id, _RH.c.provider_id, _RH.c.product_id)
        .distinct()
        .where(in_slices),
        delete(_RH).where(in_slices),
        insert(_RH).from_select(
            _RUN_COLUMNS, _run_select(dialect).where(in_keys(_R.c.machine_id, _R.c.ended_at, hour))
        ),
    )


@cache
def _session_statements(dialect: str) -> _SliceStatements:
    hour = _hour_expr(dialect, _S.c.closed_at)
    in_slices = in_keys(_SH.c.contributor_id, _SH.c.hour, _SH.c.hour)
    query = _session_select(dialect).where(in_keys(_S.c.contributor_id, _S.c.closed_at, hour))
    return _SliceStatements(
        select(_SH.c.hour, _SH.c.product_id)
        .distinct()
        .where(in_slices, _SH.c.product_id.is_not(None)),
        delete(_SH).where(in_slices),
        insert(_SH).from_select(_SESSION_COLUMNS, query),
    )


# Slices of hours this close share a chunk (one range scan for all of them).
_NEAR_HOURS = timedelta(days=1)


def _replace(
    connection: Any, sql: _SliceStatements, group: list[tuple[int, datetime]]
) -> list[Any]:
    """Recompute one chunk of slices; the owner rows they held before and hold after."""
    params = group_params(group, timedelta(hours=1))
    before = connection.execute(sql.owners, params).all()
    connection.execute(sql.delete, params)
    connection.execute(sql.insert, params)
    return [*before, *connection.execute(sql.owners, params)]


def refresh_slices(
    db: OrmSession,
    runs: Iterable[tuple[int, datetime]] = (),
    sessions: Iterable[tuple[int, datetime]] = (),
) -> None:
    """Recompute the rollup rows of these (machine id, hour) run slices and (contributor id,
    hour) session slices, then the days, months and years holding them, once for both.

    The coarser levels are rebuilt from both hourly tables, so a batch that changed runs
    and sessions refreshes them in one pass, not one per kind. Locks are taken in one
    order everywhere: run hours, session hours, then the coarser levels.
    """
    runs, sessions = set(runs), set(sessions)
    if not runs and not sessions:
        return
    connection = db.connection()
    dialect = connection.dialect.name
    machines = {(machine_id, day_of(hour)) for machine_id, hour in runs}
    people = {(who, day_of(hour)) for who, hour in sessions}
    products: set[tuple[int, datetime]] = set()
    if runs:
        lock_all(connection, "run", runs)
        for group in in_groups(runs, _NEAR_HOURS):
            for hour, operator, provider, product in _replace(
                connection, _run_statements(dialect), group
            ):
                day = day_of(hour)
                people |= {(who, day) for who in (operator, provider) if who is not None}
                if product is not None:
                    products.add((product, day))
    if sessions:
        lock_all(connection, "session", sessions)
        for group in in_groups(sessions, _NEAR_HOURS):
            rows = _replace(connection, _session_statements(dialect), group)
            products |= {(product, day_of(hour)) for hour, product in rows}
    refresh_days(connection, _RH, _SH, machines=machines, contributors=people, products=products)


def refresh_run_slices(db: OrmSession, slices: set[tuple[int, datetime]]) -> None:
    """Recompute the run rollup rows of these (machine id, hour) slices, and their days."""
    refresh_slices(db, runs=slices)


def refresh_session_slices(db: OrmSession, slices: set[tuple[int, datetime]]) -> None:
    """Recompute the session rollup rows of these (contributor id, hour) slices, and their days."""
    refresh_slices(db, sessions=slices)


def rebuild(db: Session) -> tuple[int, int]:
    """Recompute every rollup row from runs and sessions; returns the row counts."""
    dialect = db.get_bind().dialect.name
    # The groupings of millions of rows sort in memory, not in temporary files.
    if dialect == "postgresql":
        db.execute(text("SET LOCAL work_mem = '256MB'"))
    else:
        db.execute(text("PRAGMA temp_store = MEMORY"))
        db.execute(text("PRAGMA cache_size = -262144"))
    db.execute(delete(_RH))
    db.execute(delete(_SH))
    db.execute(insert(_RH).from_select(_RUN_COLUMNS, _run_select(dialect)))
    db.execute(insert(_SH).from_select(_SESSION_COLUMNS, _session_select(dialect)))
    rebuild_days(db.connection(), _RH, _SH)
    db.commit()
    if dialect == "sqlite":  # back to the defaults for whoever gets this pooled connection next
        db.execute(text("PRAGMA temp_store = DEFAULT"))
        db.execute(text("PRAGMA cache_size = -2000"))
        db.commit()
    runs = db.execute(select(func.count()).select_from(_RH)).scalar_one()
    sessions = db.execute(select(func.count()).select_from(_SH)).scalar_one()
    return int(runs), int(sessions)


def _moments(obj: Any, attribute: str) -> set[datetime]:
    """Every value (old and new) an attribute had in this flush, but None."""
    history = inspect(obj).attrs[attribute].history
    values = [*history.added, *history.unchanged, *history.deleted]
    return {hour_of(value) for value in values if isinstance(value, datetime)}


def _touched(db: OrmSession) -> tuple[set[tuple[int, datetime]], set[tuple[int, datetime]]]:
    runs: set[tuple[int, datetime]] = set()
    sessions: set[tuple[int, datetime]] = set()
    for obj in [*db.new, *db.dirty, *db.deleted]:
        if isinstance(obj, MachineRun) and obj.machine_id is not None:
            runs |= {(obj.machine_id, hour) for hour in _moments(obj, "ended_at")}
        elif isinstance(obj, LabSession) and obj.contributor_id is not None:
            sessions |= {(obj.contributor_id, hour) for hour in _moments(obj, "closed_at")}
    return runs, sessions


_PENDING = "rollup_slices_pending"


def _pending(db: OrmSession) -> tuple[set[tuple[int, datetime]], set[tuple[int, datetime]]]:
    pending: tuple[set[tuple[int, datetime]], set[tuple[int, datetime]]] = db.info.setdefault(
        _PENDING, (set(), set())
    )
    return pending


@event.listens_for(OrmSession, "after_flush")
def _note(db: OrmSession, _context: Any) -> None:
    """Remember the slices this flush changed (old and new values), for the commit."""
    runs, sessions = _touched(db)
    if runs or sessions:
        pending_runs, pending_sessions = _pending(db)
        pending_runs |= runs
        pending_sessions |= sessions


@event.listens_for(OrmSession, "before_commit")
def _recompute(db: OrmSession) -> None:
    """Recompute every slice the transaction changed, once, just before it commits.

    A transaction that flushes often (a badge-out, then the states after it)
    touches the same slices again and again; recomputing them per flush was a
    sixth of the ingest batch path. Readers in other transactions see the
    rollups and the runs they summarise change together, at the commit.
    """
    db.flush()  # the commit's own flush would come after this hook
    runs, sessions = db.info.pop(_PENDING, (set(), set()))
    if runs or sessions:
        refresh_slices(db, runs, sessions)


@event.listens_for(OrmSession, "after_rollback")
def _forget(db: OrmSession) -> None:
    """A rolled-back transaction's slices are not recomputed (the rows are as they were)."""
    db.info.pop(_PENDING, None)
