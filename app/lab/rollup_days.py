"""Daily rollups per machine, per contributor and per product, kept from the hourly ones.

The hourly rollups keep every dimension a filter can ask for (operator, product,
role, end reason), so a month holds about one row per run. The pages mostly ask
for a whole lab over weeks or years without such a filter: these tables answer
that with one row per machine, person or product and day, whatever the number
of runs. A day row is recomputed from that day's hourly rows of its owner each
time one of them changes, in the same transaction (under a per-row advisory lock
on PostgreSQL), all of a refresh's rows of one table together; `rebuild_days`
recomputes them all.

- `machine_day`: runs, busy/wall seconds, energy, material and runs per end reason;
- `contributor_day`: sessions and time present, runs operated and their busy time,
  busy time of the machines they provide;
- `product_day`: time present and machine busy time tagged to the product.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Index,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.sql import Select
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.lab.activity import EndReason

REASONS = [reason.value for reason in EndReason]


class DayKey(SQLModel):
    """The id and UTC day of a daily row (its first columns)."""

    id: int | None = Field(default=None, primary_key=True)
    day: datetime = Field(sa_type=UTCDateTime)


class MachineMeasures(SQLModel):
    """What a machine's row of every level (day, month, year) holds: the sums of its runs."""

    machine_id: int = Field(foreign_key="machine.id")
    runs: int
    busy_s: float
    wall_s: float
    energy_wh: float
    material: float
    finished: int
    failed: int
    cancelled: int
    interrupted: int
    offline: int
    abandoned: int


class ContributorMeasures(SQLModel):
    """What a contributor's row of every level holds: present, operating, as a provider."""

    contributor_id: int = Field(foreign_key="contributor.id")
    sessions: int
    labour_s: float
    operated_runs: int
    operated_busy_s: float
    machine_credit_s: float


class ProductMeasures(SQLModel):
    """What a product's row of every level holds: time present and machines busy on it."""

    product_id: int = Field()  # products live in accounting, to the right of the lab
    labour_s: float
    machine_s: float


class MachineDay(MachineMeasures, DayKey, table=True):
    """Ended runs of one machine in one UTC day."""

    __tablename__ = "machine_day"
    __table_args__ = (
        Index("ix_machine_day_day_machine", "day", "machine_id", unique=True),
        Index("ix_machine_day_machine_day", "machine_id", "day"),
    )


CONTRIBUTOR_MEASURES = (
    "sessions",
    "labour_s",
    "operated_runs",
    "operated_busy_s",
    "machine_credit_s",
)


class ContributorDay(ContributorMeasures, DayKey, table=True):
    """One contributor's time in one UTC day: present, operating, and as a machine's provider."""

    __tablename__ = "contributor_day"
    __table_args__ = (
        # Covering on PostgreSQL: a month of days by day is ~12,000 rows spread over as
        # many heap pages (each refresh rewrites its rows); the index alone answers it.
        Index(
            "ix_contributor_day_day_contributor",
            "day",
            "contributor_id",
            unique=True,
            postgresql_include=list(CONTRIBUTOR_MEASURES),
        ),
        Index("ix_contributor_day_contributor_day", "contributor_id", "day"),
    )


class ProductDay(ProductMeasures, DayKey, table=True):
    """Time put into one product in one UTC day: present, and machines busy."""

    __tablename__ = "product_day"
    __table_args__ = (
        Index("ix_product_day_day_product", "day", "product_id", unique=True),
        Index("ix_product_day_product_day", "product_id", "day"),
    )


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
CONTRIBUTOR_COLUMNS = ["day", "contributor_id", *CONTRIBUTOR_MEASURES]
PRODUCT_COLUMNS = ["day", "product_id", "labour_s", "machine_s"]


_CHUNK = 400  # keys per statement: far below any driver's limit on bound parameters
_LOCK = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS BIGINT[])) AS t(k)")


def lock_key(kind: str, owner: int, moment: datetime) -> int:
    """The advisory lock id of one rollup row or slice (the same in every process)."""
    digest = hashlib.blake2b(f"{kind}:{owner}:{moment.isoformat()}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def lock_all(connection: Connection, kind: str, keys: Iterable[tuple[int, datetime]]) -> None:
    """On PostgreSQL, one transaction at a time recomputes each of these rows (SQLite has one
    writer): all their locks in one statement, in ascending lock id, so writers cannot deadlock.
    """
    if connection.dialect.name != "postgresql":
        return
    ids = sorted({lock_key(kind, owner, moment) for owner, moment in keys})
    if ids:
        connection.execute(_LOCK, {"keys": ids})


def in_groups(
    keys: Iterable[tuple[int, datetime]], width: timedelta
) -> list[list[tuple[int, datetime]]]:
    """(owner, time) keys in chunks of nearby times, so each chunk's statements read a short range.

    A batch's keys are almost always one chunk; a repair that touches last year and today
    becomes two, instead of one scan over the year between.
    """
    groups: list[list[tuple[int, datetime]]] = []
    for key in sorted(set(keys), key=lambda k: (k[1], k[0])):
        if groups and key[1] - groups[-1][0][1] <= width and len(groups[-1]) < _CHUNK:
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups


def group_params(group: list[tuple[int, datetime]], step: timedelta) -> dict[str, Any]:
    """The bound values of a chunk: its owners, its time range and its (owner, time) keys."""
    return {
        "ids": sorted({owner for owner, _ in group}),
        "lo": group[0][1],
        "hi": max(moment for _, moment in group) + step,
        "keys": group,
    }


def in_keys(owner: Any, hour: Any, bucket: Any) -> ColumnElement[bool]:
    """Rows of the chunk bound as `ids`, `lo`, `hi` and `keys`: owner and range for the index,
    then the exact (owner, bucket of the hour) pairs.
    """
    return and_(
        owner.in_(bindparam("ids", expanding=True)),
        hour >= bindparam("lo", type_=UTCDateTime()),
        hour < bindparam("hi", type_=UTCDateTime()),
        tuple_(owner, type_coerce(bucket, UTCDateTime())).in_(bindparam("keys", expanding=True)),
    )


# Day rows this close share a chunk (one range scan of the hourly rows for all of them).
_NEAR_DAYS = timedelta(days=2)


@dataclass(frozen=True)
class _DayStatements:
    """The daily refresh's statements for one dialect, built once."""

    delete_machines: Any
    insert_machines: Any
    delete_contributors: Any
    insert_contributors: Any
    delete_products: Any
    insert_products: Any


@cache
def _day_statements(dialect: str, rh: Any, sh: Any) -> _DayStatements:
    day = partial(day_expr, dialect)
    present, operated, provided = _contributor_parts(dialect, rh, sh)
    labour, machine = _product_parts(dialect, rh, sh)
    contributors = _merge_contributor(
        [
            present.where(in_keys(sh.c.contributor_id, sh.c.hour, day(sh.c.hour))),
            operated.where(in_keys(rh.c.operator_id, rh.c.hour, day(rh.c.hour))),
            provided.where(in_keys(rh.c.provider_id, rh.c.hour, day(rh.c.hour))),
        ]
    )
    products = _merge_product(
        [
            labour.where(in_keys(sh.c.product_id, sh.c.hour, day(sh.c.hour))),
            machine.where(in_keys(rh.c.product_id, rh.c.hour, day(rh.c.hour))),
        ]
    )
    machines = _machine_select(dialect, rh).where(
        in_keys(rh.c.machine_id, rh.c.hour, day(rh.c.hour))
    )
    return _DayStatements(
        delete(MD).where(in_keys(MD.c.machine_id, MD.c.day, MD.c.day)),
        insert(MD).from_select(MACHINE_COLUMNS, machines),
        delete(CD).where(in_keys(CD.c.contributor_id, CD.c.day, CD.c.day)),
        insert(CD).from_select(CONTRIBUTOR_COLUMNS, contributors),
        delete(PD).where(in_keys(PD.c.product_id, PD.c.day, PD.c.day)),
        insert(PD).from_select(PRODUCT_COLUMNS, products),
    )


def refresh_days(
    connection: Connection,
    rh: Any,
    sh: Any,
    machines: Iterable[tuple[int, datetime]] = (),
    contributors: Iterable[tuple[int, datetime]] = (),
    products: Iterable[tuple[int, datetime]] = (),
) -> None:
    """Recompute these (owner id, day) rows of the daily rollups from the hourly ones, the
    month rows holding them from the day rows, and the year rows holding those.

    Each kind is one DELETE and one INSERT ... SELECT for all its rows (per chunk of
    nearby days), with statements built once per dialect.
    """
    # The coarser levels are built on this one's tables and helpers, so they are imported late.
    from app.lab.rollup_months import refresh_months
    from app.lab.rollup_years import refresh_years

    sql = _day_statements(connection.dialect.name, rh, sh)
    machines, contributors, products = set(machines), set(contributors), set(products)
    for kind, keys, remove, add in (
        ("machine-day", machines, sql.delete_machines, sql.insert_machines),
        ("contributor-day", contributors, sql.delete_contributors, sql.insert_contributors),
        ("product-day", products, sql.delete_products, sql.insert_products),
    ):
        lock_all(connection, kind, keys)
        for group in in_groups(keys, _NEAR_DAYS):
            params = group_params(group, timedelta(days=1))
            connection.execute(remove, params)
            connection.execute(add, params)
    refresh_months(connection, machines, contributors, products)
    refresh_years(connection, machines, contributors, products)


def rebuild_days(connection: Connection, rh: Any, sh: Any, *, months: bool = True) -> None:
    """Recompute every daily row from the hourly rollups, then every month row from them and
    every year row from those.

    `months=False` leaves the monthly and yearly levels alone: migration 0016 fills the
    days before their tables exist.
    """
    from app.lab.rollup_months import rebuild_months
    from app.lab.rollup_years import rebuild_years

    dialect = connection.dialect.name
    for table in (MD, CD, PD):
        connection.execute(delete(table))
    connection.execute(insert(MD).from_select(MACHINE_COLUMNS, _machine_select(dialect, rh)))
    contributor = _merge_contributor(_contributor_parts(dialect, rh, sh))
    connection.execute(insert(CD).from_select(CONTRIBUTOR_COLUMNS, contributor))
    product = _merge_product(_product_parts(dialect, rh, sh))
    connection.execute(insert(PD).from_select(PRODUCT_COLUMNS, product))
    if months:
        rebuild_months(connection)
        rebuild_years(connection)
