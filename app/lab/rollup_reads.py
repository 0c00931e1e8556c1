"""Which rollup level answers which part of a range, and the queries that read them.

A range is read from the coarsest rows that fit it whole: whole years from the
yearly rollups (year buckets only), the other whole months from the monthly ones
(month or year buckets), the other whole days from the daily ones, and the
partial days at the ends from the hourly ones. Each level's rows are exact sums
of the finer level's, so the answer is the same whichever level a part comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, and_, func, literal_column, or_, select
from sqlalchemy.sql import Select

from app.lab.periods import Period, bucket_label, bucket_start
from app.lab.rollup_days import day_of
from app.lab.rollup_months import month_of, next_month
from app.lab.rollup_years import next_year, year_of

if TYPE_CHECKING:
    from app.lab.stats import Filters


Span = tuple[datetime, datetime]


def _whole(
    span: Span, bucket_of: Callable[[datetime], datetime], after: Callable[[datetime], datetime]
) -> Span | None:
    """The whole buckets inside `span`, or None if none."""
    start = bucket_of(span[0])
    if start < span[0]:
        start = after(start)
    end = bucket_of(span[1])
    return (start, end) if start < end else None


def day_span(f: Filters) -> Span | None:
    """The whole UTC days inside the range (read from the daily rollups), or None if none."""
    return _whole((f.first_hour, f.until), day_of, lambda day: day + timedelta(days=1))


def month_span(f: Filters, span: Span | None) -> Span | None:
    """The whole UTC months inside the whole days `span` (read from the monthly rollups), or
    None if none or if the buckets are days or weeks (which a month row cannot be split into).
    """
    if span is None or f.by not in (Period.MONTH, Period.YEAR):
        return None
    return _whole(span, month_of, next_month)


def year_span(f: Filters, months: Span | None) -> Span | None:
    """The whole UTC years inside the whole months `months` (read from the yearly rollups), or
    None if none or if the buckets are not years (a year row cannot be split into months).
    """
    if months is None or f.by != Period.YEAR:
        return None
    return _whole(months, year_of, next_year)


def _outside(outer: Span, inner: Span | None) -> list[Span]:
    """The parts of `outer` that `inner` (inside it) leaves out."""
    if inner is None:
        return [outer]
    return [part for part in ((outer[0], inner[0]), (inner[1], outer[1])) if part[0] < part[1]]


def rollup_ranges(f: Filters, span: Span) -> dict[str, list[Span]]:
    """The whole days `span` by the coarsest rollup level that holds each part whole:
    whole years in `year` rows, the other whole months in `month` rows, the rest in `day`
    rows (months and years only when the buckets are as coarse).
    """
    months = month_span(f, span)
    years = year_span(f, months)
    return {
        "day": _outside(span, months),
        "month": _outside(months, years) if months is not None else [],
        "year": [years] if years is not None else [],
    }


def rollup_sums(
    dialect: str,
    f: Filters,
    span: Span,
    tables: dict[str, Any],
    owner: str,
    sums: Sequence[str],
    owner_id: int | None = None,
) -> list[Select[Any]]:
    """Queries for (bucket label, owner, *sums) over the whole days `span`, one per rollup
    level it needs; `tables` maps each level (`day`, `month`, `year`) to its table, whose
    time column has the level's name.
    """
    queries = []
    for level, parts in rollup_ranges(f, span).items():
        if not parts:
            continue
        table = tables[level]
        when, who = table.c[level], table.c[owner]
        label = period_label(dialect, when, f)
        query = select(label, who, *(func.sum(table.c[name]) for name in sums)).where(
            or_(*(and_(when >= lo, when < hi) for lo, hi in parts))
        )
        if owner_id is not None:
            query = query.where(who == owner_id)
        queries.append(by_bucket(query, label, who, f))
    return queries


def in_range(hour: Any, f: Filters, span: Span | None) -> Any:
    """The hourly rows of the range, less the whole days `span` (read from the daily rollups)."""
    if span is None:
        return and_(hour >= f.first_hour, hour < f.until)
    return or_(and_(hour >= f.first_hour, hour < span[0]), and_(hour >= span[1], hour < f.until))


def period_label(dialect: str, column: Any, f: Filters) -> ColumnElement[str]:
    """The bucket label of a time column, or for totals the range's one label."""
    if f.totals:
        return literal_column(f"'{bucket_start(f.since, f.by).date().isoformat()}'", String)
    return bucket_label(dialect, column, f.by)


def by_bucket(query: Select[Any], label: Any, owner: Any, f: Filters) -> Select[Any]:
    """Group by bucket and owner (by owner alone for totals: the label is a constant)."""
    return query.group_by(owner) if f.totals else query.group_by(label, owner)
