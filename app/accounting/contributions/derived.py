"""Derive contributions from the lab's history in a few set-based statements.

- Each closed session gives `labour`: closed_at - opened_at, in ms, to the
  session's contributor, in the session's role (else the contributor's role at
  the first sync), for the session's product, occurring at closed_at.
- Each ended run gives `machine`: its busy time (pauses excluded), in ms, to
  the machine's provider at the first sync (a later change of provider does not
  move past runs), with the machine id and kind, for the run's product,
  occurring at ended_at.

Deriving is incremental: database triggers (migration 0011) queue every closed
session and ended run that is inserted or updated in `contribution_pending`,
and a derivation handles only the queued ids, then removes them. The
transaction that queued them derives them before it commits (`at_commit`);
a sync (every contributions read and every sale) derives whatever is still
queued, i.e. what was changed outside the app. A full sync over all history
is kept as a repair (`POST /api/v1/contributions/sync?full=true`).

Derived rows are approved as they are made, except the labour of a session
flagged for review (closed at its maximum length): that row is `pending` until
an operator approves it. A later sync moves them when their
session or run is re-tagged to another product, re-assigned or re-timed, and
never touches their status, so a row an operator excluded stays excluded.
Inserts skip rows another sync made at the same moment (ON CONFLICT DO
NOTHING), so concurrent syncs are safe. A sync with nothing queued is one
indexed read and takes no write lock; a full sync runs each write only if a
probe finds something to write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, Update

from app.accounting.contributions.tables import (
    Contribution,
    ContributionPending,
    ContributionSource,
    ContributionStatus,
    Unit,
)
from app.accounting.engine.equation import ContributionKind
from app.db import UTCDateTime, utcnow
from app.lab.activity import LabSession, MachineRun, RunStatus
from app.lab.models import Contributor, Machine

_C = Contribution.__table__  # type: ignore[attr-defined]
_S = LabSession.__table__  # type: ignore[attr-defined]
_R = MachineRun.__table__  # type: ignore[attr-defined]
_M = Machine.__table__  # type: ignore[attr-defined]
_P = Contributor.__table__  # type: ignore[attr-defined]
_Q = ContributionPending.__table__  # type: ignore[attr-defined]

#: Queue rows handled per round of an incremental derivation.
PENDING_BATCH: Final = 5000

_AUTO = "auto"

_COLUMNS = (
    "contributor_id",
    "product_id",
    "kind",
    "quantity",
    "unit",
    "role",
    "machine_id",
    "machine_kind",
    "source",
    "source_id",
    "occurred_at",
    "status",
    "note",
    "created_at",
    "created_by",
    "decided_by",
    "decided_at",
)


def _changed(
    db: Session, pending: Select[Any], statement: Insert | Update, ids: list[int] | None
) -> int:
    """Run a write statement (only if `pending` finds rows to write) and count what it wrote.

    Probing first keeps a full sync with nothing to do read-only (no write lock
    on SQLite). A sync of queued ids (`ids` given) writes anyway, when it
    drains the queue, so it skips the probe: half the statements per sync. The
    rows come back with RETURNING: a driver's rowcount for INSERT ... SELECT is
    not reliable (psycopg reports -1).
    """
    if ids is None and not db.execute(select(pending.exists())).scalar():
        return 0
    return len(db.execute(statement.returning(_C.c.id)).all())


def _not_negative(value: ColumnElement[Any]) -> ColumnElement[int]:
    """An integer expression, clamped at zero (a clock step back must not fail the sync)."""
    return case((value < 0, 0), else_=value)


def _elapsed_ms(dialect: str, start: Any, end: Any) -> ColumnElement[int]:
    """Whole milliseconds from `start` to `end`, computed by the database."""
    if dialect == "postgresql":
        seconds = func.extract("epoch", end - start)
        return _not_negative(cast(func.round(seconds * 1000), BigInteger))
    # SQLite keeps times as text; julianday() reads them to the millisecond.
    days = func.julianday(end) - func.julianday(start)
    return _not_negative(cast(func.round(days * 86_400_000), Integer))


def _busy_ms(busy_s: Any) -> ColumnElement[int]:
    """A run's busy seconds (a float column) as whole milliseconds."""
    return _not_negative(cast(func.round(busy_s * 1000), BigInteger))


def _insert(dialect: str) -> Insert:
    """An INSERT into contribution that skips rows already there."""
    if dialect == "postgresql":
        return postgresql.insert(_C).on_conflict_do_nothing()
    return sqlite.insert(_C).on_conflict_do_nothing()


def _not_yet(source: ContributionSource, source_id: Any) -> ColumnElement[bool]:
    """No contribution derived from this source row yet."""
    return ~exists().where(_C.c.source == source.value, _C.c.source_id == source_id)


def _stamps(now: datetime) -> tuple[Any, ...]:
    """Status, note and bookkeeping columns shared by every derived row (approved at once)."""
    stamp = literal(now, UTCDateTime())
    return (
        literal(ContributionStatus.APPROVED.value, String),
        literal("", String),
        stamp,
        literal(_AUTO, String),
        literal(_AUTO, String),
        stamp,
    )


def _only(column: Any, ids: list[int] | None) -> ColumnElement[bool]:
    """`column` among `ids` (every row when `ids` is None)."""
    return true() if ids is None else column.in_(ids)


def _session_stamps(now: datetime) -> tuple[Any, ...]:
    """As `_stamps`, but a flagged session's labour is pending review, not approved."""
    status, _note, created_at, created_by, decided_by, decided_at = _stamps(now)
    flagged = _S.c.flagged.is_(True)
    return (
        case((flagged, literal(ContributionStatus.PENDING.value, String)), else_=status),
        case((flagged, func.coalesce(_S.c.flag_reason, "")), else_=literal("", String)),
        created_at,
        created_by,
        case((flagged, literal(None, String)), else_=decided_by),
        case((flagged, literal(None, UTCDateTime())), else_=decided_at),
    )


def _insert_sessions(db: Session, dialect: str, now: datetime, ids: list[int] | None) -> int:
    """Labour rows for closed sessions that have none yet (pending review when flagged)."""
    rows = (
        select(
            _S.c.contributor_id,
            _S.c.product_id,
            literal(ContributionKind.LABOUR.value, String),
            _elapsed_ms(dialect, _S.c.opened_at, _S.c.closed_at),
            literal(Unit.MS.value, String),
            func.coalesce(_S.c.role, _P.c.role),
            literal(None, Integer),
            literal(None, String),
            literal(ContributionSource.SESSION.value, String),
            _S.c.id,
            _S.c.closed_at,
            *_session_stamps(now),
        )
        .join(_P, _P.c.id == _S.c.contributor_id)
        .where(
            _only(_S.c.id, ids),
            _S.c.closed_at.is_not(None),
            _not_yet(ContributionSource.SESSION, _S.c.id),
        )
    )
    return _changed(db, rows, _insert(dialect).from_select(_COLUMNS, rows), ids)


def _insert_runs(db: Session, dialect: str, now: datetime, ids: list[int] | None) -> int:
    """Machine rows, credited to the provider, for ended runs that have none yet."""
    rows = (
        select(
            _M.c.provider_id,
            _R.c.product_id,
            literal(ContributionKind.MACHINE.value, String),
            _busy_ms(_R.c.busy_s),
            literal(Unit.MS.value, String),
            literal(None, String),
            _R.c.machine_id,
            _M.c.kind,
            literal(ContributionSource.RUN.value, String),
            _R.c.id,
            _R.c.ended_at,
            *_stamps(now),
        )
        .join(_M, _M.c.id == _R.c.machine_id)
        .where(
            _only(_R.c.id, ids),
            _R.c.status == RunStatus.ENDED.value,
            _R.c.ended_at.is_not(None),
            _not_yet(ContributionSource.RUN, _R.c.id),
        )
    )
    return _changed(db, rows, _insert(dialect).from_select(_COLUMNS, rows), ids)


def _update_sessions(db: Session, dialect: str, ids: list[int] | None) -> int:
    """Follow sessions that were re-tagged, re-assigned, re-timed or given a role."""
    elapsed = _elapsed_ms(dialect, _S.c.opened_at, _S.c.closed_at)
    moved = (
        _C.c.source == ContributionSource.SESSION.value,
        _only(_C.c.source_id, ids),
        _C.c.source_id == _S.c.id,
        _S.c.closed_at.is_not(None),
        or_(
            _C.c.product_id.is_distinct_from(_S.c.product_id),
            _C.c.contributor_id != _S.c.contributor_id,
            _C.c.quantity != elapsed,
            _C.c.occurred_at != _S.c.closed_at,
            and_(_S.c.role.is_not(None), _C.c.role.is_distinct_from(_S.c.role)),
        ),
    )
    statement = (
        update(_C)
        .where(*moved)
        .values(
            product_id=_S.c.product_id,
            contributor_id=_S.c.contributor_id,
            quantity=elapsed,
            occurred_at=_S.c.closed_at,
            role=func.coalesce(_S.c.role, _C.c.role),
        )
    )
    return _changed(db, select(_C.c.id).where(*moved), statement, ids)


def _update_runs(db: Session, ids: list[int] | None) -> int:
    """Follow runs that were re-tagged or whose busy time was corrected."""
    busy = _busy_ms(_R.c.busy_s)
    moved = (
        _C.c.source == ContributionSource.RUN.value,
        _only(_C.c.source_id, ids),
        _C.c.source_id == _R.c.id,
        _R.c.ended_at.is_not(None),
        or_(
            _C.c.product_id.is_distinct_from(_R.c.product_id),
            _C.c.quantity != busy,
            _C.c.occurred_at != _R.c.ended_at,
        ),
    )
    statement = (
        update(_C)
        .where(*moved)
        .values(product_id=_R.c.product_id, quantity=busy, occurred_at=_R.c.ended_at)
    )
    return _changed(db, select(_C.c.id).where(*moved), statement, ids)


def _derive(db: Session, sessions: list[int] | None, runs: list[int] | None) -> int:
    """Insert and move the rows of these sessions and runs (all of them for None)."""
    dialect = db.get_bind().dialect.name
    now = utcnow()
    changed = 0
    if sessions is None or sessions:
        changed += _update_sessions(db, dialect, sessions)
        changed += _insert_sessions(db, dialect, now, sessions)
    if runs is None or runs:
        changed += _update_runs(db, runs)
        changed += _insert_runs(db, dialect, now, runs)
    return changed


def _drain(db: Session, after: int, through: int) -> None:
    """Forget the queued changes with ids after `after`, up to `through`."""
    db.execute(delete(_Q).where(_Q.c.id > after, _Q.c.id <= through))


def derive_queued(db: Session, after: int = 0) -> int:
    """Derive the queued sessions and runs with queue ids above `after`, then forget them.

    Reads at most `PENDING_BATCH` queue rows per round, rounds until none are
    left, in the caller's transaction (nothing is committed); returns the rows
    made or moved. With nothing queued it is one indexed read.
    """
    changed = 0
    while True:
        queued = db.execute(
            select(_Q.c.id, _Q.c.source, _Q.c.source_id)
            .where(_Q.c.id > after)
            .order_by(_Q.c.id)
            .limit(PENDING_BATCH)
        ).all()
        if not queued:
            return changed
        sessions = sorted({r.source_id for r in queued if r.source == "session"})
        runs = sorted({r.source_id for r in queued if r.source == "run"})
        changed += _derive(db, sessions, runs)
        _drain(db, after, queued[-1].id)
        if len(queued) < PENDING_BATCH:
            return changed
        after = queued[-1].id


def sync_derived_contributions(db: Session, *, commit: bool = True, full: bool = False) -> int:
    """Bring derived contributions up to date with sessions and runs; return rows made or moved.

    Only the sessions and runs queued since the last derivation are read (at
    most `PENDING_BATCH` queue rows per round, rounds until the queue is empty),
    so a derivation with nothing to do is one indexed read. `full=True` checks
    all of history instead, as a repair. With `commit=False` the rows are
    written in the caller's transaction and stand or fall with it.
    """
    if full:
        through = db.execute(select(func.max(_Q.c.id))).scalar()
        changed = _derive(db, None, None)
        if through is not None:
            _drain(db, 0, through)
    else:
        changed = derive_queued(db)
    if commit:
        db.commit()
    return changed
