"""Monthly rollups per machine, per contributor and per product, kept from the daily ones.

A year's totals over ten years read one row per owner and month instead of one
per owner and day (the public page's default read about 30 times fewer rows).
A month row is recomputed from that month's day rows of its owner whenever one
of those day rows is refreshed, in the same transaction and the same way as the
days are kept from the hours (`app.lab.rollup_levels`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Index, func
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.lab.rollup_days import (
    CD,
    CONTRIBUTOR_COLUMNS,
    MACHINE_COLUMNS,
    MD,
    PD,
    PRODUCT_COLUMNS,
    ContributorMeasures,
    MachineMeasures,
    ProductMeasures,
)
from app.lab.rollup_levels import Level, Table, rebuild_level, refresh_level


class MonthKey(SQLModel):
    """The id and first UTC day of the calendar month of a monthly row (its first columns)."""

    id: int | None = Field(default=None, primary_key=True)
    month: datetime = Field(sa_type=UTCDateTime)


class MachineMonth(MachineMeasures, MonthKey, table=True):
    """Ended runs of one machine in one UTC calendar month (the sum of its day rows)."""

    __tablename__ = "machine_month"
    __table_args__ = (
        Index("ix_machine_month_month_machine", "month", "machine_id", unique=True),
        Index("ix_machine_month_machine_month", "machine_id", "month"),
    )


class ContributorMonth(ContributorMeasures, MonthKey, table=True):
    """One contributor's time in one UTC calendar month (the sum of their day rows)."""

    __tablename__ = "contributor_month"
    __table_args__ = (
        Index("ix_contributor_month_month_contributor", "month", "contributor_id", unique=True),
        Index("ix_contributor_month_contributor_month", "contributor_id", "month"),
    )


class ProductMonth(ProductMeasures, MonthKey, table=True):
    """Time put into one product in one UTC calendar month (the sum of its day rows)."""

    __tablename__ = "product_month"
    __table_args__ = (
        Index("ix_product_month_month_product", "month", "product_id", unique=True),
        Index("ix_product_month_product_month", "product_id", "month"),
    )


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


MONTHS = Level(
    bucket="month",
    fine_bucket="day",
    tables=(
        Table("machine-month", MM, MD, "machine_id", tuple(MACHINE_COLUMNS[2:])),
        Table("contributor-month", CM, CD, "contributor_id", tuple(CONTRIBUTOR_COLUMNS[2:])),
        Table("product-month", PM, PD, "product_id", tuple(PRODUCT_COLUMNS[2:])),
    ),
    bucket_of=month_of,
    bucket_expr=month_expr,
    near=timedelta(days=62),  # month rows this close share one range scan of the day rows
    step=timedelta(days=31),  # past the last month's last day; keys keep other months out
)


def refresh_months(
    connection: Connection,
    machines: Iterable[tuple[int, datetime]] = (),
    contributors: Iterable[tuple[int, datetime]] = (),
    products: Iterable[tuple[int, datetime]] = (),
) -> None:
    """Recompute the month rows holding these (owner id, day) day rows from the daily rollups."""
    refresh_level(connection, MONTHS, (machines, contributors, products))


def rebuild_months(connection: Connection) -> None:
    """Recompute every month row from the daily rollups."""
    rebuild_level(connection, MONTHS)
