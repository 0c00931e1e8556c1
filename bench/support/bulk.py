"""Fill a fresh benchmark database with millions of rows in seconds, on SQLite and PostgreSQL.

Row-by-row inserts into indexed tables with triggers took 5 to 7 minutes per
million rows here; almost all of it was index upkeep (every row lands in five
to seven B-trees) and trigger work. `bulk_load` takes that away for the load:

    engine = get_engine(url)
    with bulk_load(engine, ["machine_run", "lab_session"]) as load:
        load.rows("machine_run", 1_000_000, {
            "machine_id": "1 + i % 50",
            "started_at": load.moment("i * 60"),
            ...
        })

- `bulk_load(engine, tables)` drops the secondary indexes of `tables` and
  their triggers (reading both back from the database's own catalog, so it
  follows whatever the migrations made), switches the connection to load mode
  (SQLite: no journal, no fsync, a 32 MB cache, foreign keys off; PostgreSQL:
  no synchronous commit, every trigger of the tables off including the
  foreign-key ones, more memory to sort index builds), runs the loads in one
  transaction, then creates the indexes and triggers again from their saved
  definitions and runs ANALYZE. Unique constraints stay in force.
- Triggers do not fire for loaded rows: the database says nothing a trigger
  would have queued (for example `contribution_pending`), which is what a
  benchmark of a database whose history is already processed wants.
- `Load.rows(table, count, columns)` is one `INSERT ... SELECT` over the integers
  `i` = 1..count (a recursive CTE on SQLite, `generate_series` on PostgreSQL);
  each value is an SQL expression of `i`. `Load.moment(seconds)` is a timestamp
  that many seconds after `origin` in the form the service stores;
  `Load.true`/`Load.false` are the dialect's boolean literals.

Only for throwaway databases: a crash during the load leaves a SQLite file
without a journal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
LOAD_CACHE_KB = 32768


def series(dialect: str, count: int) -> str:
    """A FROM-able subquery `g` of one column `i` holding 1..count."""
    if dialect == "postgresql":
        return f"generate_series(1, {count}) AS g(i)"
    return (
        f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) "
        "SELECT i FROM s) AS g"
    )


def moment(dialect: str, seconds: str, origin: datetime = ORIGIN) -> str:
    """SQL for `origin` plus `seconds` (an SQL expression) in the form the service stores."""
    if dialect == "postgresql":
        start = origin.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        return f"(timestamptz '{start}' + ({seconds}) * interval '1 second')"
    start = origin.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    # julianday arithmetic is several times faster than datetime(..., '+N seconds').
    return f"(strftime('%Y-%m-%d %H:%M:%f', julianday('{start}') + ({seconds}) / 86400.0) || '000')"


@dataclass
class Load:
    """The open load: insert generated rows with `rows`; see the module's docstring."""

    connection: Connection
    dialect: str
    origin: datetime = ORIGIN
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def true(self) -> str:
        """The dialect's TRUE literal."""
        return "true" if self.dialect == "postgresql" else "1"

    @property
    def false(self) -> str:
        """The dialect's FALSE literal."""
        return "false" if self.dialect == "postgresql" else "0"

    def moment(self, seconds: str) -> str:
        """A timestamp `seconds` (SQL of `i`) after this load's origin."""
        return moment(self.dialect, seconds, self.origin)

    def rows(self, table: str, count: int, columns: Mapping[str, str]) -> None:
        """INSERT `count` rows into `table`, each column's value an SQL expression of `i`."""
        started = time.perf_counter()
        names = ", ".join(columns)
        values = ", ".join(columns.values())
        self.connection.execute(
            text(
                f"INSERT INTO {table} ({names}) SELECT {values} FROM {series(self.dialect, count)}"
            )
        )
        self.timings[table] = self.timings.get(table, 0.0) + time.perf_counter() - started


def _sqlite_definitions(
    connection: Connection, tables: Sequence[str]
) -> list[tuple[str, str, str]]:
    """(kind, name, CREATE statement) of the droppable indexes and the triggers of `tables`."""
    marks = ", ".join(f"'{t}'" for t in tables)
    found = connection.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        f"AND tbl_name IN ({marks}) AND sql IS NOT NULL"
    ).all()
    return [(str(kind), str(name), str(sql)) for kind, name, sql in found]


def _postgresql_indexes(connection: Connection, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes of `tables` that back no constraint."""
    marks = ", ".join(f"'{t}'" for t in tables)
    found = connection.exec_driver_sql(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = current_schema() AND i.tablename IN "
        f"({marks}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname AND c.connamespace = "
        "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
    ).all()
    return [(str(name), str(sql)) for name, sql in found]


@contextmanager
def bulk_load(engine: Engine, tables: Sequence[str], origin: datetime = ORIGIN) -> Iterator[Load]:
    """Load mode on `tables` for the block (indexes and triggers off), everything restored after."""
    started = time.perf_counter()
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "sqlite":
            for pragma in (
                "journal_mode=OFF",
                "synchronous=OFF",
                "foreign_keys=OFF",
                # A 32 MB cache and sorts spilled to temporary files keep the process
                # under the benchmarks' 250 MB; index builds sort on two threads.
                f"cache_size=-{LOAD_CACHE_KB}",
                "threads=2",
            ):
                connection.exec_driver_sql(f"PRAGMA {pragma}")
            connection.commit()
            saved = _sqlite_definitions(connection, tables)
            for kind, name, _sql in saved:
                connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
            load = Load(connection, dialect, origin)
            yield load
            rebuild = time.perf_counter()
            for _kind, _name, sql in sorted(saved, key=lambda d: d[0]):  # indexes, then triggers
                connection.exec_driver_sql(sql)
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.exec_driver_sql("PRAGMA threads=0")
            connection.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default again
        else:
            connection.exec_driver_sql("SET synchronous_commit = off")
            connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")
            indexes = _postgresql_indexes(connection, tables)
            for name, _sql in indexes:
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
            for table in tables:
                connection.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER ALL')
            load = Load(connection, dialect, origin)
            yield load
            rebuild = time.perf_counter()
            for _name, sql in indexes:
                connection.exec_driver_sql(sql)
            for table in tables:
                connection.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE TRIGGER ALL')
            connection.commit()
        load.timings["(indexes and triggers rebuilt)"] = time.perf_counter() - rebuild
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    load.timings["(total)"] = time.perf_counter() - started
