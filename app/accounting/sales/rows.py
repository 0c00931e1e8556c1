"""One-row Core inserts for the sale path, each returning the new row's id.

Through the ORM's unit of work a sale's four rows (sale, line, split,
delivery) cost as much Python as the rest of a 10-contributor sale: each was
added, flushed, its state tracked and its primary key fetched back. The sale
path writes them once and never changes them in the same transaction, so a
plain INSERT ... RETURNING (a statement compiled once per table and cached)
does the same. Rows nothing reads afterwards (the delivery record, a split)
go in as plain values: building a SQLModel object costs more than the insert.
A new sale and its lines go in from plain values too, and the sale path reads
what it needs of them from small frozen records (`NewSale`, `NewLine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from app.accounting.money import currency_exponent, normalize_currency
from app.accounting.sales.events import SaleLine as EventLine
from app.accounting.sales.events import ShopEvent
from app.accounting.sales.tables import Sale, SaleLine
from app.db import utcnow

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


@dataclass(frozen=True, slots=True)
class NewSale:
    """What the sale path reads back of the sale row it has just inserted."""

    id: int
    provider: str
    order_key: str
    currency: str
    currency_exponent: int
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class NewLine:
    """What the sale path reads back of a line row it has just inserted."""

    id: int
    position: int
    product_id: int | None
    gross_minor: int
    fee_minor: int
    net_minor: int


def insert_sale(db: Session, event: ShopEvent) -> NewSale | None:
    """The sale row, by one INSERT of plain values; None if the order is recorded already.

    Building a `Sale` model for it cost as much as the insert: nothing reads one back.
    """
    currency = normalize_currency(event.currency)
    provider, order_key = event.provider, event.order_key[:200]
    exponent = currency_exponent(currency)
    values = {
        "provider": provider,
        "order_key": order_key,
        "currency": currency,
        "currency_exponent": exponent,
        "occurred_at": event.occurred_at,
        "gross_minor": event.amount_minor,
        "fees_minor": event.fees_minor or 0,
        "refunded_minor": 0,
        "held": False,
        "reference": event.reference[:500],
        "test": event.test,
        "created_at": utcnow(),
        "voided_at": None,
        "voided_by": None,
        "void_reason": None,
    }
    sale_id = insert_values(db, Sale, values, unique=("provider", "order_key"))
    if sale_id is None:
        return None
    return NewSale(sale_id, provider, order_key, currency, exponent, event.occurred_at)


def insert_line(
    db: Session, sale: NewSale, position: int, line: EventLine, fee: int, product_id: int | None
) -> NewLine:
    """One line row, by one INSERT of plain values (allocated at the sale when it has a product)."""
    values = {
        "sale_id": sale.id,
        "position": position,
        "sku": line.sku[:200] if line.sku else None,
        "description": line.description[:500],
        "product_id": product_id,
        "quantity": line.quantity,
        "gross_minor": line.gross_minor,
        "fee_minor": fee,
        "net_minor": line.gross_minor - fee,
        "refunded_minor": 0,
        "allocated_at": None if product_id is None else sale.occurred_at,
    }
    line_id = insert_values(db, SaleLine, values)
    assert line_id is not None
    return NewLine(line_id, position, product_id, line.gross_minor, fee, line.gross_minor - fee)
