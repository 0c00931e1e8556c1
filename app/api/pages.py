"""The shape of every list response."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, the cursor of the next page, and the total matching.

    Pass `next` back as `after` for the following page (None: this is the last).
    `total` counts the matching rows, or is None when there are more than 1,000.
    """

    items: list[T]
    next: int | None = None
    total: int | None
    limit: int
    offset: int
