"""Yearly rollups per machine, per contributor and per product, kept from the monthly ones.

Ten years of totals read one row per owner and year instead of one per owner and
month (the public page's default: about 12 times fewer rows, however long the
history). A year row is recomputed from that year's month rows of its owner
whenever one of them is refreshed, in the same transaction and the same way as
the months are kept from the days (`app.lab.rollup_levels`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Index, func
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.lab.rollup_days import (
    CONTRIBUTOR_COLUMNS,
    MACHINE_COLUMNS,
    PRODUCT_COLUMNS,
    ContributorMeasures,
    MachineMeasures,
    ProductMeasures,
)
from app.lab.rollup_levels import Level, Table, rebuild_level, refresh_level
from app.lab.rollup_months import CM, MM, PM


class YearKey(SQLModel):
    """The id and first UTC day of the calendar year of a yearly row (its first columns)."""

    id: int | None = Field(default=None, primary_key=True)
    year: datetime = Field(sa_type=UTCDateTime)


class MachineYear(MachineMeasures, YearKey, table=True):
    """Ended runs of one machine in one UTC calendar year (the sum of its month rows)."""

    __tablename__ = "machine_year"
    __table_args__ = (
        Index("ix_machine_year_year_machine", "year", "machine_id", unique=True),
        Index("ix_machine_year_machine_year", "machine_id", "year"),
    )


class ContributorYear(ContributorMeasures, YearKey, table=True):
    """One contributor's time in one UTC calendar year (the sum of their month rows)."""

    __tablename__ = "contributor_year"
    __table_args__ = (
        Index("ix_contributor_year_year_contributor", "year", "contributor_id", unique=True),
        Index("ix_contributor_year_contributor_year", "contributor_id", "year"),
    )


class ProductYear(ProductMeasures, YearKey, table=True):
    """Time put into one product in one UTC calendar year (the sum of its month rows)."""

    __tablename__ = "product_year"
    __table_args__ = (
        Index("ix_product_year_year_product", "year", "product_id", unique=True),
        Index("ix_product_year_product_year", "product_id", "year"),
    )


MY = MachineYear.__table__  # type: ignore[attr-defined]
CY = ContributorYear.__table__  # type: ignore[attr-defined]
PY = ProductYear.__table__  # type: ignore[attr-defined]


def year_of(moment: datetime) -> datetime:
    """The UTC midnight starting the calendar year a moment falls in."""
    return moment.astimezone(UTC).replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def next_year(year: datetime) -> datetime:
    """The first moment of the year after the one starting at `year`."""
    return year_of(year).replace(year=year.year + 1)


def year_expr(dialect: str, column: Any) -> ColumnElement[Any]:
    """The year a month column falls in, in the form the dialect stores timestamps in."""
    if dialect == "sqlite":
        return func.substr(column, 1, 5) + "01-01 00:00:00.000000"
    return func.date_trunc("year", column, "UTC")


YEARS = Level(
    bucket="year",
    fine_bucket="month",
    tables=(
        Table("machine-year", MY, MM, "machine_id", tuple(MACHINE_COLUMNS[2:])),
        Table("contributor-year", CY, CM, "contributor_id", tuple(CONTRIBUTOR_COLUMNS[2:])),
        Table("product-year", PY, PM, "product_id", tuple(PRODUCT_COLUMNS[2:])),
    ),
    bucket_of=year_of,
    bucket_expr=year_expr,
    near=timedelta(days=731),  # year rows this close share one range scan of the month rows
    step=timedelta(days=366),  # past the last year's December; keys keep other years out
)


def refresh_years(
    connection: Connection,
    machines: Iterable[tuple[int, datetime]] = (),
    contributors: Iterable[tuple[int, datetime]] = (),
    products: Iterable[tuple[int, datetime]] = (),
) -> None:
    """Recompute the year rows holding these (owner id, day or month) keys from the months."""
    refresh_level(connection, YEARS, (machines, contributors, products))


def rebuild_years(connection: Connection) -> None:
    """Recompute every year row from the monthly rollups."""
    rebuild_level(connection, YEARS)
