"""Coarser rollup levels (months, years) kept as sums of the next finer one.

A row of a coarser level is recomputed from its owner's rows of the finer level in
the same transaction as those, the way days are kept from hours: one DELETE and
one INSERT ... SELECT per table per chunk of nearby keys, statements built once
per dialect and level, a per-row advisory lock on PostgreSQL. So the coarse rows
always equal the sums of the fine rows they cover, and a rebuild gives the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select
from sqlalchemy.sql import Select

from app.lab.rollup_days import group_params, in_groups, in_keys, lock_all

Keys = Iterable[tuple[int, datetime]]  # (owner id, moment) pairs


@dataclass(frozen=True)
class Table:
    """One table of a level: the finer table it sums, its owner column and its summed columns."""

    kind: str  # the advisory lock's name for its rows
    coarse: Any
    fine: Any
    owner: str
    sums: tuple[str, ...]


@dataclass(frozen=True)
class Level:
    """A level's three tables (machines, contributors, products) and how it buckets time.

    `near` is how close two keys must be to share a chunk (one range scan of the finer
    rows for both); `step` reaches past the last finer row of a bucket.
    """

    bucket: str  # the coarse tables' time column
    fine_bucket: str  # the finer tables' time column
    tables: tuple[Table, Table, Table]
    bucket_of: Callable[[datetime], datetime]
    bucket_expr: Callable[[str, Any], ColumnElement[Any]]
    near: timedelta
    step: timedelta

    def columns(self, table: Table) -> list[str]:
        """The INSERT's target columns, in the SELECT's order."""
        return [self.bucket, table.owner, *table.sums]

    def summed(self, dialect: str, table: Table) -> Select[Any]:
        """Coarse rows as sums of the finer rows, per owner and bucket."""
        fine = table.fine
        bucket = self.bucket_expr(dialect, fine.c[self.fine_bucket])
        owner = fine.c[table.owner]
        sums = (func.sum(fine.c[name]) for name in table.sums)
        return select(bucket, owner, *sums).group_by(bucket, owner)


@cache
def _statements(level: Level, dialect: str) -> tuple[tuple[str, Any, Any], ...]:
    statements = []
    for table in level.tables:
        fine, coarse = table.fine, table.coarse
        when = fine.c[level.fine_bucket]
        chosen = level.summed(dialect, table).where(
            in_keys(fine.c[table.owner], when, level.bucket_expr(dialect, when))
        )
        bucket = coarse.c[level.bucket]
        remove = delete(coarse).where(in_keys(coarse.c[table.owner], bucket, bucket))
        add = insert(coarse).from_select(level.columns(table), chosen)
        statements.append((table.kind, remove, add))
    return tuple(statements)


def refresh_level(
    connection: Connection,
    level: Level,
    keys: tuple[Keys, Keys, Keys],
) -> None:
    """Recompute the rows of `level` holding these (owner id, moment) keys of machines,
    contributors and products from the finer level.
    """
    statements = _statements(level, connection.dialect.name)
    for (kind, remove, add), moments in zip(statements, keys, strict=True):
        buckets = {(owner, level.bucket_of(moment)) for owner, moment in moments}
        lock_all(connection, kind, buckets)
        for group in in_groups(buckets, level.near):
            params = group_params(group, level.step)
            connection.execute(remove, params)
            connection.execute(add, params)


def rebuild_level(connection: Connection, level: Level) -> None:
    """Recompute every row of `level` from the finer level."""
    dialect = connection.dialect.name
    for table in level.tables:
        connection.execute(delete(table.coarse))
        summed = level.summed(dialect, table)
        connection.execute(insert(table.coarse).from_select(level.columns(table), summed))
