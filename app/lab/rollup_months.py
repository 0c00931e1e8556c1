"""Monthly rollups per machine, per contributor and per product, kept from the daily ones.

A year's totals over ten years read one row per owner and month instead of one
per owner and day (the public page's default read about 30 times fewer rows).
A month row is recomputed from that month's day rows of its owner whenever one
of those day rows is refreshed, in the same transaction and the same way as the
days are kept from the hours: one DELETE and one INSERT ... SELECT per table per
chunk, statements built once per dialect, a per-row advisory lock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Float,
    Index,
    Integer,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.sql import Select
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.lab.rollup_days import (
    CD,
    CONTRIBUTOR_COLUMNS,
    MACHINE_COLUMNS,
    MD,
    PD,
    PRODUCT_COLUMNS,
    group_params,
    in_groups,
    in_keys,
    lock_all,
)


class MachineMonth(SQLModel, table=True):
    """Ended runs of one machine in one UTC calendar month (the sum of its day rows)."""

    __tablename__ = "machine_month"
    __table_args__ = (
        Index("ix_machine_month_month_machine", "month", "machine_id", unique=True),
        Index("ix_machine_month_machine_month", "machine_id", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month: datetime = Field(sa_type=UTCDateTime)
    machine_id: int = Field(foreign_key="machine.id")
    runs: int = Field(sa_column=Column(Integer, nullable=False))
    busy_s: float = Field(sa_column=Column(Float, nullable=False))
    wall_s: float = Field(sa_column=Column(Float, nullable=False))
    energy_wh: float = Field(sa_column=Column(Float, nullable=False))
    material: float = Field(sa_column=Column(Float, nullable=False))
    finished: int = Field(sa_column=Column(Integer, nullable=False))
    failed: int = Field(sa_column=Column(Integer, nullable=False))
    cancelled: int = Field(sa_column=Column(Integer, nullable=False))
    interrupted: int = Field(sa_column=Column(Integer, nullable=False))
    offline: int = Field(sa_column=Column(Integer, nullable=False))
    abandoned: int = Field(sa_column=Column(Integer, nullable=False))


class ContributorMonth(SQLModel, table=True):
    """One contributor's time in one UTC calendar month (the sum of their day rows)."""

    __tablename__ = "contributor_month"
    __table_args__ = (
        Index("ix_contributor_month_month_contributor", "month", "contributor_id", unique=True),
        Index("ix_contributor_month_contributor_month", "contributor_id", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month: datetime = Field(sa_type=UTCDateTime)
    contributor_id: int = Field(foreign_key="contributor.id")
    sessions: int = Field(sa_column=Column(Integer, nullable=False))
    labour_s: float = Field(sa_column=Column(Float, nullable=False))
    operated_runs: int = Field(sa_column=Column(Integer, nullable=False))
    operated_busy_s: float = Field(sa_column=Column(Float, nullable=False))
    machine_credit_s: float = Field(sa_column=Column(Float, nullable=False))


class ProductMonth(SQLModel, table=True):
    """Time put into one product in one UTC calendar month (the sum of its day rows)."""

    __tablename__ = "product_month"
    __table_args__ = (
        Index("ix_product_month_month_product", "month", "product_id", unique=True),
        Index("ix_product_month_product_month", "product_id", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month: datetime = Field(sa_type=UTCDateTime)
    product_id: int = Field()  # products live in accounting, to the right of the lab
    labour_s: float = Field(sa_column=Column(Float, nullable=False))
    machine_s: float = Field(sa_column=Column(Float, nullable=False))


MM = MachineMonth.__table__  # type: ignore[attr-defined]
CM = ContributorMonth.__table__  # type: ignore[attr-defined]
PM = ProductMonth.__table__  # type: ignore[attr-defined]


def month_of(moment: datetime) -> datetime:
    """The UTC midnight starting the calendar month a moment falls in."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: datetime) -> datetime:
    """The first moment of the month after the one starting at `month`."""
    return month_of(month.replace(day=1) + timedelta(days=32))


def month_expr(dialect: str, column: Any) -> ColumnElement[Any]:
    """The month a day column falls in, in the form the dialect stores timestamps in."""
    if dialect == "sqlite":
        return func.substr(column, 1, 8) + "01 00:00:00.000000"
    return func.date_trunc("month", column, "UTC")


def _summed(dialect: str, days: Any, owner: str, sums: list[str]) -> Select[Any]:
    """Month rows as sums of the day rows of `days` (a day table), per owner and month."""
    month = month_expr(dialect, days.c.day)
    return select(month, days.c[owner], *(func.sum(days.c[name]) for name in sums)).group_by(
        month, days.c[owner]
    )


@dataclass(frozen=True)
class _Level:
    """One monthly table: the day table it sums, its owner column and its summed columns."""

    kind: str
    months: Any
    days: Any
    owner: str
    sums: list[str]

    @property
    def columns(self) -> list[str]:
        """The INSERT's target columns, in the SELECT's order."""
        return ["month", self.owner, *self.sums]


def _levels() -> tuple[_Level, _Level, _Level]:
    return (
        _Level("machine-month", MM, MD, "machine_id", MACHINE_COLUMNS[2:]),
        _Level("contributor-month", CM, CD, "contributor_id", CONTRIBUTOR_COLUMNS[2:]),
        _Level("product-month", PM, PD, "product_id", PRODUCT_COLUMNS[2:]),
    )


# Month rows this close share a chunk (one range scan of the day rows for all of them).
_NEAR_MONTHS = timedelta(days=62)
_MONTH_STEP = timedelta(days=31)  # past the last month's last day; keys keep other months out


@cache
def _month_statements(dialect: str) -> tuple[tuple[str, Any, Any], ...]:
    statements = []
    for level in _levels():
        owner = level.days.c[level.owner]
        chosen = _summed(dialect, level.days, level.owner, level.sums).where(
            in_keys(owner, level.days.c.day, month_expr(dialect, level.days.c.day))
        )
        months = level.months
        remove = delete(months).where(
            in_keys(months.c[level.owner], months.c.month, months.c.month)
        )
        statements.append((level.kind, remove, insert(months).from_select(level.columns, chosen)))
    return tuple(statements)


def refresh_months(
    connection: Connection,
    machines: Iterable[tuple[int, datetime]] = (),
    contributors: Iterable[tuple[int, datetime]] = (),
    products: Iterable[tuple[int, datetime]] = (),
) -> None:
    """Recompute the month rows holding these (owner id, day) day rows from the daily rollups."""
    statements = _month_statements(connection.dialect.name)
    for (kind, remove, add), days in zip(
        statements, (machines, contributors, products), strict=True
    ):
        keys = {(owner, month_of(day)) for owner, day in days}
        lock_all(connection, kind, keys)
        for group in in_groups(keys, _NEAR_MONTHS):
            params = group_params(group, _MONTH_STEP)
            connection.execute(remove, params)
            connection.execute(add, params)


def rebuild_months(connection: Connection) -> None:
    """Recompute every month row from the daily rollups."""
    dialect = connection.dialect.name
    for level in _levels():
        connection.execute(delete(level.months))
        summed = _summed(dialect, level.days, level.owner, level.sums)
        connection.execute(insert(level.months).from_select(level.columns, summed))
