"""Updating many rows by key with values handed to the database driver ready-made.

An ingest batch updates a few hundred runs, statuses and sessions by primary key.
SQLAlchemy's executemany builds each row's parameters anew (a dict per row, the
compiled statement's bind names, every column's processor looked up per value):
that was a fifth of the batch's writes. Here each column's bind processor is
looked up once per dialect and only the columns that have one (timestamps, on
SQLite) are converted; the rows go to the driver's executemany as tuples. The
values the driver receives are the ones SQLAlchemy would have given it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True, slots=True)
class _Update:
    """An UPDATE by key for one table, columns and dialect, with its columns' processors."""

    sql: str
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)


@cache
def _update(dialect: Dialect, table: Table, key: str, columns: tuple[str, ...]) -> _Update:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quote(table.c[name].name)} = {mark}" for name in columns)
    sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(table.c[key].name)} = {mark}"  # noqa: S608
    processors = []
    for position, name in enumerate((*columns, key)):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((position, processor))
    return _Update(sql, tuple(processors))


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
    update = _update(connection.dialect, table, key, tuple(columns))
    if update.processors:
        ready = []
        for row in rows:
            values = list(row)
            for position, processor in update.processors:
                values[position] = processor(values[position])
            ready.append(values)
        rows = ready
    connection.exec_driver_sql(update.sql, list(map(tuple, rows)))
