"""One-row Core inserts for the sale path, each returning the new row's id.

Through the ORM's unit of work a sale's four rows (sale, line, split,
delivery) cost as much Python as the rest of a 10-contributor sale: each was
added, flushed, its state tracked and its primary key fetched back. The sale
path writes them once and never changes them in the same transaction, so a
plain INSERT ... RETURNING (a statement compiled once per table and cached)
does the same. Rows nothing reads afterwards (the delivery record, a split)
go in as plain values: building a SQLModel object costs more than the insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

Row = TypeVar("Row", bound=SQLModel)

# Per (table, unique columns or none): the INSERT ... RETURNING id.
_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], Insert] = {}
_COLUMNS: dict[str, tuple[str, ...]] = {}


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _statement(db: Session, table: Table, unique: tuple[str, ...]) -> Insert:
    """INSERT ... RETURNING id; with `unique`, one that inserts nothing on a clash there."""
    dialect = db.get_bind().dialect.name if unique else ""
    key = (table.name, dialect, unique)
    statement = _STATEMENTS.get(key)
    if statement is None:
        if not unique:
            statement = insert(table)
        elif dialect == "postgresql":
            statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
        elif dialect == "sqlite":
            statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)
        else:  # pragma: no cover - the settings accept only these two
            raise RuntimeError(f"no conflict clause for database {dialect!r}")
        statement = statement.returning(table.c.id)
        _STATEMENTS[key] = statement
    return statement


def insert_values(
    db: Session, model: type[SQLModel], values: dict[str, Any], unique: Sequence[str] = ()
) -> int | None:
    """INSERT one row of `model` from `values` (every column it needs); its new id.

    With `unique` (the columns of a unique constraint), a row that would clash
    there is not inserted and None is returned, in the same one statement.
    """
    statement = _statement(db, _table(model), tuple(unique))
    new_id = db.connection().execute(statement, values).scalar()
    return None if new_id is None else int(new_id)


def insert_row(db: Session, row: Row, unique: Sequence[str] = ()) -> int | None:
    """INSERT `row` (a transient model, never added to the session); gives it its id.

    The model's constructor fills its defaults; every column but `id` is written
    as the object holds it. Later changes to the object are not saved. With
    `unique`, a clashing row is not inserted and None is returned.
    """
    table = _table(type(row))
    names = _COLUMNS.get(table.name)
    if names is None:
        names = tuple(column.name for column in table.columns if column.name != "id")
        _COLUMNS[table.name] = names
    new_id = insert_values(db, type(row), {name: getattr(row, name) for name in names}, unique)
    if new_id is not None:
        row.id = new_id
    return new_id
