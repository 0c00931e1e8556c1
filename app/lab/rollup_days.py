"""Daily rollups per machine, per contributor and per product, kept from the hourly ones.

The hourly rollups keep every dimension a filter can ask for (operator, product,
role, end reason), so a month holds about one row per run. The pages mostly ask
for a whole lab over weeks or years without such a filter: these tables answer
that with one row per machine, person or product and day, whatever the number
of runs. A day row is recomputed from that day's hourly rows of its owner each
time one of them changes, in the same transaction (under a per-row advisory lock
on PostgreSQL), and `rebuild_days` recomputes them all.

- `machine_day`: runs, busy/wall seconds, energy, material and runs per end reason;
- `contributor_day`: sessions and time present, runs operated and their busy time,
  busy time of the machines they provide;
- `product_day`: time present and machine busy time tagged to the product.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Float,
    Index,
    Integer,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.sql import Select
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.lab.activity import EndReason

REASONS = [reason.value for reason in EndReason]


class MachineDay(SQLModel, table=True):
    """Ended runs of one machine in one UTC day."""

    __tablename__ = "machine_day"
    __table_args__ = (
        Index("ix_machine_day_day_machine", "day", "machine_id", unique=True),
        Index("ix_machine_day_machine_day", "machine_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: datetime = Field(sa_type=UTCDateTime)
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


class ContributorDay(SQLModel, table=True):
    """One contributor's time in one UTC day: present, operating, and as a machine's provider."""

    __tablename__ = "contributor_day"
    __table_args__ = (
        Index("ix_contributor_day_day_contributor", "day", "contributor_id", unique=True),
        Index("ix_contributor_day_contributor_day", "contributor_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: datetime = Field(sa_type=UTCDateTime)
    contributor_id: int = Field(foreign_key="contributor.id")
    sessions: int = Field(sa_column=Column(Integer, nullable=False))
    labour_s: float = Field(sa_column=Column(Float, nullable=False))
    operated_runs: int = Field(sa_column=Column(Integer, nullable=False))
    operated_busy_s: float = Field(sa_column=Column(Float, nullable=False))
    machine_credit_s: float = Field(sa_column=Column(Float, nullable=False))


class ProductDay(SQLModel, table=True):
    """Time put into one product in one UTC day: present, and machines busy."""

    __tablename__ = "product_day"
    __table_args__ = (
        Index("ix_product_day_day_product", "day", "product_id", unique=True),
        Index("ix_product_day_product_day", "product_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: datetime = Field(sa_type=UTCDateTime)
    product_id: int = Field()  # products live in accounting, to the right of the lab
    labour_s: float = Field(sa_column=Column(Float, nullable=False))
    machine_s: float = Field(sa_column=Column(Float, nullable=False))


MD = MachineDay.__table__  # type: ignore[attr-defined]
CD = ContributorDay.__table__  # type: ignore[attr-defined]
PD = ProductDay.__table__  # type: ignore[attr-defined]


def day_of(moment: datetime) -> datetime:
    """The UTC midnight starting the day a moment falls in."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day_expr(dialect: str, column: Any) -> ColumnElement[Any]:
    """The day an hour column falls in, in the form the dialect stores timestamps in."""
    if dialect == "sqlite":
        return func.substr(column, 1, 10) + " 00:00:00.000000"
    return func.date_trunc("day", column, "UTC")


def _zero(kind: Any) -> ColumnElement[Any]:
    return cast(literal(0), kind)


def _machine_select(dialect: str, rh: Any) -> Select[Any]:
    day = day_expr(dialect, rh.c.hour)
    return select(
        day,
        rh.c.machine_id,
        func.sum(rh.c.runs),
        func.sum(rh.c.busy_s),
        func.sum(rh.c.wall_s),
        func.sum(rh.c.energy_wh),
        func.sum(rh.c.material),
        *(func.sum(case((rh.c.end_reason == r, rh.c.runs), else_=0)) for r in REASONS),
    ).group_by(day, rh.c.machine_id)


def _contributor_parts(dialect: str, rh: Any, sh: Any) -> list[Select[Any]]:
    """Present, operated and provided time per hourly row, in one shape (summed by day later).

    Ungrouped, so a rebuild sorts once over their union instead of once per part.
    """
    present = select(
        day_expr(dialect, sh.c.hour).label("day"),
        sh.c.contributor_id.label("who"),
        sh.c.sessions.label("sessions"),
        sh.c.seconds.label("labour_s"),
        _zero(Integer).label("operated_runs"),
        _zero(Float).label("operated_busy_s"),
        _zero(Float).label("machine_credit_s"),
    )
    operated = select(
        day_expr(dialect, rh.c.hour),
        rh.c.operator_id,
        _zero(Integer),
        _zero(Float),
        rh.c.runs,
        rh.c.busy_s,
        _zero(Float),
    ).where(rh.c.operator_id.is_not(None))
    provided = select(
        day_expr(dialect, rh.c.hour),
        rh.c.provider_id,
        _zero(Integer),
        _zero(Float),
        _zero(Integer),
        _zero(Float),
        rh.c.busy_s,
    ).where(rh.c.provider_id.is_not(None))
    return [present, operated, provided]


def _merge_contributor(parts: list[Select[Any]]) -> Select[Any]:
    merged = union_all(*parts).subquery()
    return select(
        merged.c.day,
        merged.c.who,
        func.sum(merged.c.sessions),
        func.sum(merged.c.labour_s),
        func.sum(merged.c.operated_runs),
        func.sum(merged.c.operated_busy_s),
        func.sum(merged.c.machine_credit_s),
    ).group_by(merged.c.day, merged.c.who)


def _product_parts(dialect: str, rh: Any, sh: Any) -> list[Select[Any]]:
    labour = select(
        day_expr(dialect, sh.c.hour).label("day"),
        sh.c.product_id.label("product_id"),
        sh.c.seconds.label("labour_s"),
        _zero(Float).label("machine_s"),
    ).where(sh.c.product_id.is_not(None))
    machine = select(
        day_expr(dialect, rh.c.hour), rh.c.product_id, _zero(Float), rh.c.busy_s
    ).where(rh.c.product_id.is_not(None))
    return [labour, machine]


def _merge_product(parts: list[Select[Any]]) -> Select[Any]:
    merged = union_all(*parts).subquery()
    return select(
        merged.c.day, merged.c.product_id, func.sum(merged.c.labour_s), func.sum(merged.c.machine_s)
    ).group_by(merged.c.day, merged.c.product_id)


MACHINE_COLUMNS = ["day", "machine_id", "runs", "busy_s", "wall_s", "energy_wh", "material"]
MACHINE_COLUMNS += REASONS
CONTRIBUTOR_COLUMNS = [
    "day",
    "contributor_id",
    "sessions",
    "labour_s",
    "operated_runs",
    "operated_busy_s",
    "machine_credit_s",
]
PRODUCT_COLUMNS = ["day", "product_id", "labour_s", "machine_s"]


def _lock(connection: Connection, kind: str, owner: int, day: datetime) -> None:
    """On PostgreSQL, one transaction at a time recomputes a day row (SQLite has one writer)."""
    if connection.dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"{kind}:{owner}:{day.isoformat()}".encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), "big", signed=True)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def refresh_days(
    connection: Connection,
    rh: Any,
    sh: Any,
    machines: Iterable[tuple[int, datetime]] = (),
    contributors: Iterable[tuple[int, datetime]] = (),
    products: Iterable[tuple[int, datetime]] = (),
) -> None:
    """Recompute these (owner id, day) rows of the daily rollups from the hourly ones."""
    dialect = connection.dialect.name
    for machine_id, day in sorted(set(machines)):
        _lock(connection, "machine-day", machine_id, day)
        connection.execute(delete(MD).where(MD.c.machine_id == machine_id, MD.c.day == day))
        query = _machine_select(dialect, rh).where(
            rh.c.machine_id == machine_id, rh.c.hour >= day, rh.c.hour < day + timedelta(days=1)
        )
        connection.execute(insert(MD).from_select(MACHINE_COLUMNS, query))
    for who, day in sorted(set(contributors)):
        _lock(connection, "contributor-day", who, day)
        connection.execute(delete(CD).where(CD.c.contributor_id == who, CD.c.day == day))
        end = day + timedelta(days=1)
        present, operated, provided = _contributor_parts(dialect, rh, sh)
        parts = [
            present.where(sh.c.contributor_id == who, sh.c.hour >= day, sh.c.hour < end),
            operated.where(rh.c.operator_id == who, rh.c.hour >= day, rh.c.hour < end),
            provided.where(rh.c.provider_id == who, rh.c.hour >= day, rh.c.hour < end),
        ]
        connection.execute(insert(CD).from_select(CONTRIBUTOR_COLUMNS, _merge_contributor(parts)))
    for product_id, day in sorted(set(products)):
        _lock(connection, "product-day", product_id, day)
        connection.execute(delete(PD).where(PD.c.product_id == product_id, PD.c.day == day))
        end = day + timedelta(days=1)
        labour, machine = _product_parts(dialect, rh, sh)
        parts = [
            labour.where(sh.c.product_id == product_id, sh.c.hour >= day, sh.c.hour < end),
            machine.where(rh.c.product_id == product_id, rh.c.hour >= day, rh.c.hour < end),
        ]
        connection.execute(insert(PD).from_select(PRODUCT_COLUMNS, _merge_product(parts)))


def rebuild_days(connection: Connection, rh: Any, sh: Any) -> None:
    """Recompute every daily row from the hourly rollups."""
    dialect = connection.dialect.name
    for table in (MD, CD, PD):
        connection.execute(delete(table))
    connection.execute(insert(MD).from_select(MACHINE_COLUMNS, _machine_select(dialect, rh)))
    contributor = _merge_contributor(_contributor_parts(dialect, rh, sh))
    connection.execute(insert(CD).from_select(CONTRIBUTOR_COLUMNS, contributor))
    product = _merge_product(_product_parts(dialect, rh, sh))
    connection.execute(insert(PD).from_select(PRODUCT_COLUMNS, product))
