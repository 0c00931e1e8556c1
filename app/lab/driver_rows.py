"""Writing many rows with values handed to the database driver ready-made.

An ingest batch inserts a few hundred events and updates a few hundred runs,
statuses and sessions by primary key.
SQLAlchemy's executemany builds each row's parameters anew (a dict per row, the
compiled statement's bind names, every column's processor looked up per value):
that was a fifth of the batch's writes. Here each column's bind processor is
looked up once per dialect and only the columns that have one (timestamps, on
SQLite) are converted; the rows go to the driver as tuples, in one executemany
(updates) or in multi-row VALUES statements (inserts that skip taken keys). The
values the driver receives are the ones SQLAlchemy would have given it.

Driver SQL skips SQLAlchemy's `before_execute` event, which hooks watching
writes rely on (the contribution queue's notes its head before a transaction's
first write of a session or run: `app.accounting.contributions.at_commit`).
So each write first announces itself to those listeners as the Core statement
it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.util import immutabledict

# Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
INSERT_CHUNK = 500

Processors = tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)


@dataclass(frozen=True, slots=True)
class _Statement:
    """SQL for one table, columns and dialect, with the positions that need a processor."""

    sql: str
    processors: Processors
    mark: str


def _processors(dialect: Dialect, table: Table, names: Sequence[str]) -> Processors:
    found = []
    for position, name in enumerate(names):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            found.append((position, processor))
    return tuple(found)


def _ready(rows: Sequence[Sequence[Any]], processors: Processors) -> list[tuple[Any, ...]]:
    if not processors:
        return [tuple(row) for row in rows]
    ready = []
    for row in rows:
        values = list(row)
        for position, processor in processors:
            values[position] = processor(values[position])
        ready.append(tuple(values))
    return ready


@cache
def _update(dialect: Dialect, table: Table, key: str, columns: tuple[str, ...]) -> _Statement:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quote(table.c[name].name)} = {mark}" for name in columns)
    sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(table.c[key].name)} = {mark}"  # noqa: S608
    return _Statement(sql, _processors(dialect, table, (*columns, key)), mark)


@cache
def _insert(dialect: Dialect, table: Table, key: str, columns: tuple[str, ...]) -> _Statement:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(quote(table.c[name].name) for name in columns)
    unique = quote(table.c[key].name)
    # The VALUES rows are added per call; the rest is the same every time.
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) VALUES {{rows}}"  # noqa: S608
        f" ON CONFLICT ({unique}) DO NOTHING RETURNING {unique}"
    )
    return _Statement(sql, _processors(dialect, table, columns), mark)


def _announce(connection: Connection, statement: Insert | Update) -> None:
    """Show `before_execute` listeners the write about to go as driver SQL."""
    for listener in connection.dispatch.before_execute:
        listener(connection, statement, (), {}, immutabledict())


def insert_new(
    connection: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """INSERT `rows` (values in `columns` order), skipping any whose unique `key` is taken
    already; returns how many went in. Multi-row statements of up to INSERT_CHUNK rows."""
    if not rows:
        return 0
    _announce(connection, table.insert())
    statement = _insert(connection.dialect, table, key, tuple(columns))
    one = "(" + ", ".join([statement.mark] * len(columns)) + ")"
    inserted = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = _ready(rows[start : start + INSERT_CHUNK], statement.processors)
        sql = statement.sql.format(rows=", ".join([one] * len(chunk)))
        flat = tuple(value for row in chunk for value in row)
        inserted += len(connection.exec_driver_sql(sql, flat).all())
    return inserted


def update_many(
    connection: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """UPDATE `table` SET `columns` WHERE `key` = ... for each row (the columns' values in
    order, then the key's), in the connection's transaction, as one executemany."""
    if not rows:
        return
    _announce(connection, table.update())
    update = _update(connection.dialect, table, key, tuple(columns))
    connection.exec_driver_sql(update.sql, _ready(rows, update.processors))
