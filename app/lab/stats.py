"""Machine and contributor hours over a period, read from the rollup level that fits each part.

A run counts in the hour it ended, a session in the hour it closed; a range
is taken in whole hours. Definitions:

- busy: time a machine was actually working (pauses excluded);
- wall: from each run's start to its end (pauses included);
- available: the range clipped to the machine's life (created, up to now),
  less its maintenance and out-of-service windows;
- idle: available time not busy; utilisation: busy / available.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.sql import Select
from sqlmodel import Session, col

from app.db import utcnow
from app.lab.activity import EndReason
from app.lab.downtime import overlap_seconds, windows_between
from app.lab.models import Contributor, Machine
from app.lab.periods import Period, bucket_label, bucket_start, buckets
from app.lab.rollup_days import CD, MACHINE_COLUMNS, MD
from app.lab.rollup_months import CM, MM
from app.lab.rollup_reads import by_bucket, day_span, in_range, period_label, rollup_sums
from app.lab.rollup_years import CY, MY
from app.lab.rollups import RunHour, SessionHour, hour_of

_RH = RunHour.__table__  # type: ignore[attr-defined]
_SH = SessionHour.__table__  # type: ignore[attr-defined]
_P = Contributor.__table__  # type: ignore[attr-defined]
REASONS = [reason.value for reason in EndReason]


@dataclass(frozen=True)
class Filters:
    """What the figures are narrowed to; None means all."""

    since: datetime
    until: datetime
    by: Period = Period.DAY
    machine_id: int | None = None
    contributor_id: int | None = None
    product_id: int | None = None
    role: str | None = None
    # One row per owner for the whole range (labelled with its first bucket) instead of one
    # per bucket: summed in the database; `by` still picks the coarsest rollups to read.
    totals: bool = False

    @property
    def first_hour(self) -> datetime:
        """The first whole hour of the range."""
        return hour_of(self.since)


@dataclass
class MachineHours:
    """One machine in one bucket."""

    period: str
    machine_id: int
    machine: str
    runs: int
    busy_s: float
    wall_s: float
    available_s: float
    idle_s: float
    utilisation: float | None
    energy_wh: float
    material: float
    finished: int
    failed: int
    cancelled: int
    interrupted: int
    offline: int
    abandoned: int


@dataclass
class ContributorHours:
    """One contributor in one bucket: time present, machine time run, machine time provided."""

    period: str
    contributor_id: int
    contributor: str
    sessions: int
    labour_s: float
    operated_runs: int
    operated_busy_s: float
    machine_credit_s: float


def utilisation(busy_s: float, available_s: float) -> float | None:
    """Busy over available time, at most 1 (a run counts where it ends, so it can overhang)."""
    return round(min(busy_s / available_s, 1.0), 4) if available_s > 0 else None


def _buckets(f: Filters) -> list[tuple[str, datetime, datetime]]:
    """Every bucket of the range (label, start, end), or the range itself for totals."""
    if f.totals:
        return [(bucket_start(f.since, f.by).date().isoformat(), f.since, f.until)]
    return buckets(f.since, f.until, f.by)


def _add(found: dict[Any, list[Any]], key: Any, values: Sequence[Any]) -> None:
    """Sum a row of figures into the row found so far under the same key."""
    if key in found:
        found[key] = [a + b for a, b in zip(found[key], values, strict=True)]
    else:
        found[key] = list(values)


def _run_filters(
    query: Select[Any], f: Filters, who: Any, span: tuple[datetime, datetime] | None = None
) -> Select[Any]:
    query = query.where(in_range(_RH.c.hour, f, span))
    if f.machine_id is not None:
        query = query.where(_RH.c.machine_id == f.machine_id)
    if f.product_id is not None:
        query = query.where(_RH.c.product_id == f.product_id)
    if f.role is not None:
        query = query.where(_RH.c.role == f.role)
    if f.contributor_id is not None and who is not None:
        query = query.where(who == f.contributor_id)
    return query


def machine_hours(db: Session, f: Filters) -> list[MachineHours]:
    """Busy, wall, available and idle time, utilisation, runs by end reason, energy, material."""
    dialect = db.get_bind().dialect.name
    label = period_label(dialect, _RH.c.hour, f)
    query = select(
        label,
        _RH.c.machine_id,
        func.sum(_RH.c.runs),
        func.sum(_RH.c.busy_s),
        func.sum(_RH.c.wall_s),
        func.sum(_RH.c.energy_wh),
        func.sum(_RH.c.material),
        *(func.sum(case((_RH.c.end_reason == r, _RH.c.runs), else_=0)) for r in REASONS),
    )
    query = by_bucket(query, label, _RH.c.machine_id, f)
    # Whole days come from the daily rollup unless a filter needs the hourly dimensions.
    daily = f.product_id is None and f.role is None and f.contributor_id is None
    span = day_span(f) if daily else None
    query = _run_filters(query, f, _RH.c.operator_id, span)
    found: dict[tuple[str, int], list[Any]] = {}
    for hourly in db.execute(query):
        _add(found, (hourly[0], hourly[1]), hourly[2:])
    if span is not None:
        levels = {"day": MD, "month": MM, "year": MY}
        sums = MACHINE_COLUMNS[2:]
        for query in rollup_sums(dialect, f, span, levels, "machine_id", sums, f.machine_id):
            for summed in db.execute(query):
                _add(found, (summed[0], summed[1]), summed[2:])
    machines_query = select(
        col(Machine.id), col(Machine.name), col(Machine.active), col(Machine.created_at)
    ).order_by(col(Machine.name))
    if f.machine_id is not None:
        machines_query = machines_query.where(col(Machine.id) == f.machine_id)
    machines = db.execute(machines_query).all()
    windows = defaultdict(list)
    for window in windows_between(db, f.since, f.until, [m[0] for m in machines]):
        windows[window.machine_id].append(window)
    now = utcnow()
    nothing = (0, 0.0, 0.0, 0.0, 0.0, *[0] * len(REASONS))
    rows = []
    for label_text, start, end in _buckets(f):
        for machine_id, name, active, created_at in machines:
            row = found.get((label_text, machine_id))
            if row is None and not active:
                continue
            runs, busy, wall, energy, material, *counts = row or nothing
            life_start, life_end = max(start, created_at), min(end, now)
            available = max(0.0, (life_end - life_start).total_seconds())
            if available and machine_id in windows:
                available -= overlap_seconds(windows[machine_id], life_start, life_end, now)
            busy = float(busy)
            rows.append(
                MachineHours(
                    label_text,
                    machine_id,
                    name,
                    int(runs),
                    busy,
                    float(wall),
                    available,
                    max(0.0, available - busy),
                    utilisation(busy, available),
                    float(energy),
                    float(material),
                    *(int(n) for n in counts),
                )
            )
    return rows


def _zero(kind: Any) -> ColumnElement[Any]:
    """A typed zero, so the branches of a UNION agree on their column types."""
    return cast(literal(0), kind)


def contributor_hours(db: Session, f: Filters) -> list[ContributorHours]:
    """Labour time, machine time operated, and machine time credited to providers.

    Whole days come from the daily rollup (one row per person and day) unless a
    machine, product or role filter needs the hourly dimensions; the partial days
    at either end, or everything under such a filter, from the hourly rollups in one
    query whose three sums are grouped and merged in the database.
    """
    dialect = db.get_bind().dialect.name
    daily = f.machine_id is None and f.product_id is None and f.role is None
    span = day_span(f) if daily else None
    run_label = period_label(dialect, _RH.c.hour, f)
    operated = select(
        run_label.label("period"),
        _RH.c.operator_id.label("who"),
        _zero(Integer).label("sessions"),
        _zero(Float).label("labour_s"),
        func.sum(_RH.c.runs).label("operated_runs"),
        func.sum(_RH.c.busy_s).label("operated_busy_s"),
        _zero(Float).label("machine_credit_s"),
    ).where(_RH.c.operator_id.is_not(None))
    operated = _run_filters(
        by_bucket(operated, run_label, _RH.c.operator_id, f), f, _RH.c.operator_id, span
    )
    provided = select(
        run_label,
        _RH.c.provider_id,
        _zero(Integer),
        _zero(Float),
        _zero(Integer),
        _zero(Float),
        func.sum(_RH.c.busy_s),
    ).where(_RH.c.provider_id.is_not(None))
    provided = _run_filters(
        by_bucket(provided, run_label, _RH.c.provider_id, f), f, _RH.c.provider_id, span
    )
    session_label = period_label(dialect, _SH.c.hour, f)
    present = select(
        session_label,
        _SH.c.contributor_id,
        func.sum(_SH.c.sessions),
        func.sum(_SH.c.seconds),
        _zero(Integer),
        _zero(Float),
        _zero(Float),
    ).where(in_range(_SH.c.hour, f, span))
    for column, value in (
        (_SH.c.contributor_id, f.contributor_id),
        (_SH.c.machine_id, f.machine_id),
        (_SH.c.product_id, f.product_id),
        (_SH.c.role, f.role),
    ):
        if value is not None:
            present = present.where(column == value)
    present = by_bucket(present, session_label, _SH.c.contributor_id, f)
    merged = union_all(operated, provided, present).subquery()
    query = (
        select(
            merged.c.period,
            merged.c.who,
            # PostgreSQL sums bigints as numeric: counts come back as plain integers.
            cast(func.sum(merged.c.sessions), BigInteger),
            func.sum(merged.c.labour_s),
            cast(func.sum(merged.c.operated_runs), BigInteger),
            func.sum(merged.c.operated_busy_s),
            func.sum(merged.c.machine_credit_s),
        )
        .group_by(merged.c.period, merged.c.who)
        .order_by(merged.c.period, merged.c.who)
    )
    edges = db.execute(query).all()
    rows = _contributor_days(db, f, span, edges) if span is not None else edges
    names = {int(cid): str(name) for cid, name in db.execute(select(_P.c.id, _P.c.name))}
    # Every row is (period, who, sessions, labour, runs, busy, credit) of plain ints and floats
    # already: one dataclass each, no per-value conversion (about 9,000 rows for 30 days by day).
    return [
        ContributorHours(period, who, names.get(who) or f"#{who}", n, labour, runs, busy, credit)
        for period, who, n, labour, runs, busy, credit in rows
    ]


def _contributor_days(
    db: Session, f: Filters, span: tuple[datetime, datetime], edges: Sequence[Any]
) -> Sequence[Any]:
    """Whole days from the daily rollup (whole months and years from the monthly and yearly
    ones when the buckets are that coarse) with the partial days' rows `edges` added in,
    ordered by bucket and person."""
    dialect = db.get_bind().dialect.name
    sums = [CD.c.sessions, CD.c.labour_s, CD.c.operated_runs, CD.c.operated_busy_s]
    sums.append(CD.c.machine_credit_s)
    if f.by == Period.DAY and not f.totals:  # one row per person and day: no grouping
        label = bucket_label(dialect, CD.c.day, f.by)
        query = select(label, CD.c.contributor_id, *sums).order_by(CD.c.day, CD.c.contributor_id)
        query = query.where(CD.c.day >= span[0], CD.c.day < span[1])
        if f.contributor_id is not None:
            query = query.where(CD.c.contributor_id == f.contributor_id)
        # A partial day is never a whole one: its rows (in order) go before or after these.
        first = span[0].date().isoformat()
        before = [row for row in edges if row[0] < first]
        return [*before, *db.execute(query).all(), *edges[len(before) :]]
    levels = {"day": CD, "month": CM, "year": CY}
    names = [c.name for c in sums]
    found: dict[Any, list[Any]] = {}
    queries = rollup_sums(dialect, f, span, levels, "contributor_id", names, f.contributor_id)
    for row in [*edges, *(row for query in queries for row in db.execute(query).all())]:
        _add(found, (row[0], row[1]), row[2:])
    return sorted((*key, *values) for key, values in found.items())
