"""Inserting many rows of plain values through the database driver in one go.

SQLAlchemy's executemany runs every value of every row through its type
processing; for a sale's thousand ledger entries and split shares that was a
third of the sale. Here the values arrive already in the form the driver
takes (ints, strings, and datetimes turned once by `bind_value`), and go to
the driver as they are: on SQLite as one executemany; on PostgreSQL as one
`COPY ... FROM STDIN`, since psycopg's executemany still sends and prepares
every row as a statement of its own (two thirds of a 1,000-contributor sale).
COPY fires the same row triggers and checks the same constraints as INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session


def bind_value(db: Session, table: Table, column: str, value: Any) -> Any:
    """`value` as the column's type hands it to this database's driver (call once, reuse)."""
    dialect = db.get_bind().dialect
    processor = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return value if processor is None else processor(value)


def insert_many(
    db: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT `rows` (tuples in `columns` order, driver-ready) in the session's transaction.

    Names come from the table's own columns, quoted by the dialect; values are bound.
    """
    if not rows:
        return
    connection = db.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[column].name) for column in columns)
    if connection.dialect.name == "postgresql":
        _copy(connection, f"COPY {quote(table.name)} ({names}) FROM STDIN", rows)
        return
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * len(columns))
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, list(rows))


def _copy(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """COPY `rows` in on the connection's own transaction (psycopg 3).

    A driver error comes back as SQLAlchemy's (an IntegrityError stays one), as
    from any statement.
    """
    error: type[Exception] = connection.dialect.loaded_dbapi.Error
    cursor: Any = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except error as exc:
        raise DBAPIError.instance(sql, None, exc, error) from exc
    finally:
        cursor.close()
