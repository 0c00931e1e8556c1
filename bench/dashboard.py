"""Benchmark: the dashboard's API calls at 10,000 and at 1,000,000 runs and sessions.

Builds two databases with set-based inserts (a lab of 50 machines and 400 people
running 300 jobs a day, so 1,000,000 runs is about nine years of history),
fills the hourly rollups with `labledger rollups rebuild`'s code, then times
each call the pages make over HTTP and prints the p50 per call and the ratio
of the large database's time to the small one's.

    python bench/dashboard.py                      # SQLite (temporary files)
    LABLEDGER_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/postgres \\
        python bench/dashboard.py                  # PostgreSQL (throwaway databases)

It is a benchmark, not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import os
import resource
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session

from app.api.keys import Role, create_key
from app.config import Settings
from app.db import dispose_engines, get_engine, upgrade_database
from app.lab.activity import LabSession, MachineRun
from app.lab.rollups import rebuild
from app.main import create_app

MACHINES = 50
PEOPLE = 400
PRODUCTS = 20
RUNS_PER_DAY = 300
SIZES = (10_000, 1_000_000)
REPEATS = 15
NOW = datetime.now(UTC).replace(microsecond=0)


@contextmanager
def database(configured: str | None, label: str) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a throwaway PostgreSQL database."""
    if not configured or configured.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / f'bench-{label}.db'}"
            upgrade_database(url)
            yield url
            dispose_engines()
        return
    server = make_url(configured)
    name = f"labledger_bench_{label}_{secrets.token_hex(3)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _series(dialect: str, n: int) -> str:
    """A CTE `s(i)` of 0..n-1."""
    if dialect == "sqlite":
        return f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1})"
    return f"WITH s(i) AS (SELECT generate_series(0::bigint, {n - 1}))"


def _moment(dialect: str, seconds_expr: str) -> str:
    """SQL for NOW minus `seconds_expr` seconds, in the form each database stores."""
    now = NOW.strftime("%Y-%m-%d %H:%M:%S")
    if dialect == "sqlite":
        shift = f"printf('%+d seconds', -({seconds_expr}))"
        return f"strftime('%Y-%m-%d %H:%M:%S', '{now}', {shift}) || '.000000'"
    return f"(TIMESTAMPTZ '{now}+00' - ({seconds_expr}) * INTERVAL '1 second')"


def fill(url: str, rows: int) -> float:
    """Insert the lab and `rows` runs and `rows` sessions, set-based; returns seconds taken."""
    started = time.perf_counter()
    engine = get_engine(url)
    dialect = engine.dialect.name
    span_s = rows * 86400 // RUNS_PER_DAY
    step = f"(i * {span_s} / {rows})"
    ago = f"({span_s} + 7200 - {step})"  # seconds before now a run starts; all end before now
    bulk = [MachineRun.__table__, LabSession.__table__]  # type: ignore[attr-defined]
    indexes = [index for table in bulk for index in table.indexes]
    with engine.begin() as db:
        for index in indexes:  # a bulk load is faster into bare tables; they are rebuilt below
            index.drop(db)
        stamp = _moment(dialect, "0")
        db.execute(
            text(
                f"{_series(dialect, PEOPLE)} INSERT INTO contributor "
                "(name, email, display_name, payout_details, role, name_public, is_commons_fund, "
                f"active, created_at, updated_at) SELECT 'Person ' || i, NULL, 'Person ' || i, '', "
                f"CASE WHEN i % 10 = 0 THEN 'steward' ELSE 'maker' END, false, false, true, "
                f"{stamp}, {stamp} FROM s"
            )
        )
        db.execute(
            text(
                f"{_series(dialect, PRODUCTS)} INSERT INTO product (name, description, active, "
                f"created_at, updated_at) SELECT 'Product ' || i, '', true, {stamp}, {stamp} FROM s"
            )
        )
        old = _moment(dialect, str(span_s + 86400))
        db.execute(
            text(
                f"{_series(dialect, MACHINES)} INSERT INTO machine (name, kind, adapter, address, "
                "provider_id, run_start_after_s, run_stop_after_s, idle_timeout_s, active, "
                f"created_at, updated_at) SELECT 'Machine ' || i, 'printer', 'lab', 'm' || i, "
                f"1 + (i % 5), 10, 30, 1800, true, {old}, {old} FROM s"
            )
        )
        db.execute(
            text(
                f"{_series(dialect, MACHINES)} INSERT INTO machine_status (machine_id, state) "
                "SELECT i + 1, CASE WHEN i % 3 = 0 THEN 'running' ELSE 'idle' END FROM s"
            )
        )
        start = _moment(dialect, ago)
        end = _moment(dialect, f"{ago} - 600 - (i % 7) * 900")
        db.execute(
            text(
                f"{_series(dialect, rows)} INSERT INTO machine_run "
                "(machine_id, status, started_at, ended_at, busy_s, end_reason, provenance, "
                "flagged, last_sample_at, operator_id, product_id, attribution, start_event_id, "
                "energy_wh, material) "
                f"SELECT 1 + (i % {MACHINES}), 'ended', {start}, {end}, 540 + (i % 7) * 900, "
                "CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled' ELSE 'finished' END, "
                f"'measured', false, {end}, "
                f"CASE WHEN i % 100 = 0 THEN NULL ELSE 2 + (i % {PEOPLE}) END, "
                f"1 + (i % {PRODUCTS}), 'session', 'bench-' || i, 50.0, 12.5 FROM s"
            )
        )
        closed = _moment(dialect, f"{ago} - 1800 - (i % 5) * 1200")
        db.execute(
            text(
                f"{_series(dialect, rows)} INSERT INTO lab_session (contributor_id, machine_id, "
                "product_id, role, opened_at, closed_at, close_reason, closed_by, "
                "last_activity_at) "
                f"SELECT 2 + (i % {PEOPLE}), 1 + (i % {MACHINES}), 1 + (i % {PRODUCTS}), 'maker', "
                f"{start}, {closed}, 'badge_out', 'bench', {closed} FROM s"
            )
        )
        for index in indexes:
            index.create(db)
        # Triggers queued every inserted run and session for derivation; a running lab derives
        # them as events arrive, so its pages find the queue empty: so do the bench's.
        db.execute(text("DELETE FROM contribution_pending"))
    inserted = time.perf_counter() - started
    with Session(engine) as db:
        rebuild(db)
    print(
        f"  inserted in {inserted:.1f} s, rollups rebuilt by {time.perf_counter() - started:.1f} s"
    )
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def calls(client: TestClient) -> dict[str, Callable[[], object]]:
    """The calls the pages make, and the pages themselves, by name."""
    month = {"since": (NOW - timedelta(days=30)).isoformat(), "until": NOW.isoformat()}
    year = {"since": (NOW - timedelta(days=365)).isoformat(), "until": NOW.isoformat()}
    days = {"since": (NOW - timedelta(days=30)).date().isoformat(), "until": NOW.date().isoformat()}

    def get(path: str, **params: str | int) -> Callable[[], object]:
        def call() -> object:
            response = client.get(path, params=params)
            assert response.status_code == 200, response.text
            return response

        return call

    return {
        "now (every machine live)": get("/api/v1/now"),
        "machines, 30 days by day": get("/api/v1/stats/machines", by="day", **month),
        "contributors, 30 days by day": get("/api/v1/stats/contributors", by="day", **month),
        "contributors, 30 days (page)": get("/api/v1/stats/contributors", by="month", **month),
        "products, 30 days by week": get("/api/v1/stats/products", by="week", **month),
        "one machine, 1 year by month": get(
            "/api/v1/stats/machines", by="month", machine_id=7, **year
        ),
        "machines CSV, 30 days": get("/api/v1/stats/machines", format="csv", **month),
        "page: Now": get("/"),
        "page: Machines, 30 days": get("/machines", **days),
        "page: a machine": get("/machines/7"),
        "page: Contributors, 30 days": get("/contributors", **days),
        "page: a contributor": get("/contributors/9"),
        "page: Products, 30 days": get("/products", **days),
        "page: a product": get("/products/3"),
        "page: Public (10 years)": get("/public"),
        "page: a machine's runs as CSV": get("/machines/7", csv="runs"),
    }


def measure(url: str) -> dict[str, tuple[float, float]]:
    """p50 wall and CPU milliseconds of each call against the database at `url`.

    CPU time is this process's (the app and, on SQLite, the database): on a loaded
    machine it shows the work a call costs apart from the wait for a core.
    """
    settings = Settings(database_url=url, mqtt_enabled=False, public_dashboard=True, _env_file=None)
    with Session(get_engine(url)) as db:
        _row, key = create_key(db, "bench", Role.VIEWER)
    results: dict[str, tuple[float, float]] = {}
    with TestClient(create_app(settings)) as client:
        login = client.post(
            "/login", data={"api_key": key}, headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )  # fmt: skip
        assert login.status_code == 303, login.text
        client.headers["Authorization"] = f"Bearer {key}"
        for name, call in calls(client).items():
            call()
            times, cpu = [], []
            for _ in range(REPEATS):
                started, used = time.perf_counter(), time.process_time()
                call()
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
            wall, used_ms = statistics.median(times), statistics.median(cpu)
            results[name] = (wall, used_ms)
            print(f"  {name}: {wall:.1f} ms ({used_ms:.1f} ms CPU)", flush=True)
    return results


def main() -> None:
    """Build both databases, time the calls, print the table."""
    configured = os.environ.get("LABLEDGER_DATABASE_URL")
    kind = "PostgreSQL" if configured and configured.startswith("postgresql") else "SQLite"
    figures: dict[int, dict[str, tuple[float, float]]] = {}
    for rows in SIZES:
        with database(configured, str(rows)) as url:
            took = fill(url, rows)
            print(f"{kind}: built {rows:,} runs + {rows:,} sessions in {took:.1f} s", flush=True)
            figures[rows] = measure(url)
    small, large = figures[SIZES[0]], figures[SIZES[1]]
    print()
    print(f"{'call (' + kind + ')':<34} {'p50 10k':>9} {'p50 1M':>9} {'ratio':>6} {'CPU 1M':>9}")
    for name in small:
        ratio = large[name][0] / small[name][0]
        print(
            f"{name:<34} {small[name][0]:>7.1f}ms {large[name][0]:>7.1f}ms {ratio:>6.2f} "
            f"{large[name][1]:>7.1f}ms"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB; load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
