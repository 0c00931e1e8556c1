"""One-row Core inserts for the sale path, each returning the new row's id.

Through the ORM's unit of work a sale's four rows (sale, line, split,
delivery) cost as much Python as the rest of a 10-contributor sale: each was
added, flushed, its state tracked and its primary key fetched back. The sale
path writes them once and never changes them in the same transaction, so a
plain INSERT ... RETURNING (a statement compiled once per table and cached)
does the same: the model's constructor still fills its defaults, and the
object, never added to the session, carries the values on to the next step.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Insert, Table, insert
from sqlmodel import Session, SQLModel

Row = TypeVar("Row", bound=SQLModel)

# Per table: the INSERT ... RETURNING id, and the names of the columns it writes.
_STATEMENTS: dict[str, tuple[Insert, tuple[str, ...]]] = {}


def _statement(table: Table) -> tuple[Insert, tuple[str, ...]]:
    known = _STATEMENTS.get(table.name)
    if known is None:
        names = tuple(column.name for column in table.columns if column.name != "id")
        known = (insert(table).returning(table.c.id), names)
        _STATEMENTS[table.name] = known
    return known


def insert_row(db: Session, row: Row) -> Row:
    """INSERT `row` (a transient model, never added to the session) and give it its id.

    The model's constructor fills its defaults; every column but `id` is written
    as the object holds it. The row stays outside the session: later changes to
    the object are not saved.
    """
    table: Table = type(row).__table__  # type: ignore[attr-defined]
    statement, names = _statement(table)
    values = {name: getattr(row, name) for name in names}
    new_id = db.connection().execute(statement, values).scalar_one()
    row.id = int(new_id)
    return row
