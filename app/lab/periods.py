"""Calendar buckets (day, ISO week, month) in UTC, in Python and in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func


class Period(StrEnum):
    """How aggregates are grouped in time: by UTC day, ISO week (from Monday), month or year."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


def bucket_start(moment: datetime, by: Period) -> datetime:
    """The start (UTC midnight) of the bucket a moment falls in."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if by == Period.WEEK:
        return day - timedelta(days=day.weekday())
    if by == Period.MONTH:
        return day.replace(day=1)
    if by == Period.YEAR:
        return day.replace(month=1, day=1)
    return day


def next_bucket(start: datetime, by: Period) -> datetime:
    """The start of the bucket after the one starting at `start`."""
    if by == Period.DAY:
        return start + timedelta(days=1)
    if by == Period.WEEK:
        return start + timedelta(days=7)
    if by == Period.YEAR:
        return start.replace(year=start.year + 1, month=1, day=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month, day=1)


def buckets(since: datetime, until: datetime, by: Period) -> list[tuple[str, datetime, datetime]]:
    """Every bucket overlapping [since, until): its label (start date) and its clipped span."""
    result = []
    start = bucket_start(since, by)
    while start < until:
        end = next_bucket(start, by)
        result.append((start.date().isoformat(), max(start, since), min(end, until)))
        start = end
    return result


def bucket_label(dialect: str, column: Any, by: Period) -> ColumnElement[str]:
    """SQL for the label (`YYYY-MM-DD` of the bucket's first day) of a UTC timestamp column.

    SQLite keeps timestamps as ISO text (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC), so a day or
    month label is a prefix of it: `substr` costs far less per row than `strftime`.
    """
    if dialect == "sqlite":
        if by == Period.WEEK:
            return func.strftime("%Y-%m-%d", column, "weekday 0", "-6 days")
        if by == Period.MONTH:
            return func.substr(column, 1, 8) + "01"
        if by == Period.YEAR:
            return func.substr(column, 1, 5) + "01-01"
        return func.substr(column, 1, 10)
    truncated = func.date_trunc(by.value, column, "UTC")
    return func.to_char(func.timezone("UTC", truncated), "YYYY-MM-DD")
