"""Small helpers every resource service shares: load-or-404, partial updates, pages.

Lists page by keyset: rows come in a fixed order whose last key is the primary
key, and `after=<key>` continues after that row with an indexed range instead
of skipping rows, so a page costs the same on page 1 and page 20,000. `offset`
still works (it skips rows; cheap near the start only). The total is counted
only up to `COUNT_CAP` rows, never over a whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, tuple_
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db import utcnow
from app.errors import InvalidInput, NotFound

T = TypeVar("T", bound=SQLModel)

COUNT_CAP = 1000


def get_or_404(session: Session, model: type[T], row_id: int) -> T:
    """The row with `row_id`, or NotFound naming what was missing."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{model.__name__.lower()} {row_id} does not exist", {"id": row_id})
    return row


def apply_update(
    row: SQLModel, update: BaseModel, nullable: Iterable[str] = (), exclude: Iterable[str] = ()
) -> dict[str, Any]:
    """Copy the fields a client actually sent onto `row`; null only where a field may be null."""
    changes = update.model_dump(exclude_unset=True, exclude=set(exclude))
    allowed_null = set(nullable)
    for field, value in changes.items():
        if value is None and field not in allowed_null:
            raise InvalidInput(f"{field} cannot be null", {"field": field})
    for field, value in changes.items():
        setattr(row, field, value)
    if hasattr(row, "updated_at"):
        row.updated_at = utcnow()
    return changes


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order, newest-first (`descending`) or oldest-first."""

    column: Any
    descending: bool = False


@dataclass(frozen=True)
class Slice(Generic[T]):
    """One page of rows, the cursor of the next page, and the bounded total."""

    rows: list[T]
    next: int | None
    total: int | None


def page(
    session: Session,
    model: type[T],
    query: SelectOfScalar[T],
    order: Sequence[SortKey],
    limit: int,
    offset: int = 0,
    after: int | None = None,
) -> Slice[T]:
    """One page of `query` in `order` (all one direction, ending with the primary key).

    `after` is the primary key of the last row already seen; `next` is the one to
    pass for the page after this (None on the last page). `total` is the number
    of matching rows, or None when there are more than COUNT_CAP.
    """
    base = query
    if after is not None:
        query = query.where(_beyond(session, model, order, after))
    ordering = [k.column.desc() if k.descending else k.column for k in order]
    query = query.order_by(*ordering)
    rows = list(session.exec(query.offset(offset).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    key_name = order[-1].column.key
    cursor = getattr(rows[-1], key_name) if more and rows else None
    if after is None and offset == 0 and not more:
        total: int | None = len(rows)
    else:
        # The count walks the list's own order, as the page did, so it takes the page's
        # plan and stops after COUNT_CAP + 1 rows; only a constant is selected, so an
        # index that holds the filter answers it without reading the rows.
        bare: Select[Any] = base.with_only_columns(
            literal_column("1"), maintain_column_froms=True
        ).order_by(*ordering)
        capped = bare.limit(COUNT_CAP + 1).subquery()
        counted = int(session.exec(select(func.count()).select_from(capped)).one())
        total = counted if counted <= COUNT_CAP else None
    return Slice(rows, cursor, total)


def _beyond(
    session: Session, model: type[T], order: Sequence[SortKey], after: int
) -> ColumnElement[bool]:
    """Rows that come after the row keyed `after` in `order`."""
    anchor = session.get(model, after)
    if anchor is None:
        raise InvalidInput(
            f"after: no {model.__name__.lower()} {after} to continue from", {"after": after}
        )
    columns = tuple_(*(k.column for k in order))
    values = tuple_(
        *(bindparam(None, getattr(anchor, k.column.key), type_=k.column.type) for k in order)
    )
    return columns < values if order[0].descending else columns > values
