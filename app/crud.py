"""Small helpers every resource service shares: load-or-404, partial updates, pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db import utcnow
from app.errors import InvalidInput, NotFound

T = TypeVar("T", bound=SQLModel)


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


def page(
    session: Session, query: SelectOfScalar[T], limit: int, offset: int
) -> tuple[list[T], int]:
    """One page of `query` and the total count of rows it matches."""
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = list(session.exec(query.limit(limit).offset(offset)).all())
    return rows, int(total)
