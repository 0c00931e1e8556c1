"""Benchmark: the dashboard's API calls at 10,000 and at 1,000,000 runs and sessions.

Builds two databases with `support.bulk` (a lab of 50 machines and 400 people
running 300 jobs a day, so 1,000,000 runs is about nine years of history),
fills the hourly, daily, monthly and yearly rollups with `labledger rollups rebuild`'s
code, then times each call the pages make over HTTP and prints the p50 per call
and the ratio of the large database's time to the small one's.

    python bench/dashboard.py                      # SQLite (temporary files)
    LABLEDGER_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/postgres \\
        python bench/dashboard.py                  # PostgreSQL (throwaway databases)

It is a benchmark, not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import logging
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session
from support.bulk import LOAD_CACHE_KB, bulk_load
from support.env import fresh_database

from app.api.keys import Role, create_key
from app.config import Settings
from app.db import dispose_engines, get_engine
from app.lab.rollups import rebuild
from app.main import create_app

MACHINES = 50
PEOPLE = 400
PRODUCTS = 20
RUNS_PER_DAY = 300
SIZES = (10_000, 1_000_000)
REPEATS = 15
MIN_REPEATS = 5  # a call slower than BUDGET_S / REPEATS stops after these once over budget
BUDGET_S = 3.0
ROLLUPS = ["run_hour", "session_hour", "machine_day", "contributor_day", "product_day"]
ROLLUPS += ["machine_month", "contributor_month", "product_month"]
ROLLUPS += ["machine_year", "contributor_year", "product_year"]
NOW = datetime.now(UTC).replace(microsecond=0)


def fill(url: str, rows: int) -> dict[str, float]:
    """The lab and `rows` runs and `rows` sessions by `support.bulk`, then the app's rollups.

    Returns the seconds each step took. Runs start evenly over `rows / RUNS_PER_DAY`
    days ending two hours ago; every run and session has ended before now.
    """
    engine = get_engine(url)
    span_s = rows * 86400 // RUNS_PER_DAY
    j = "(CAST(i AS BIGINT) - 1)"  # 0-based as before the bulk loader; 64-bit on PostgreSQL
    with bulk_load(engine, ["machine_run", "lab_session", *ROLLUPS], origin=NOW - timedelta(
        seconds=span_s + 7200
    )) as load:  # fmt: skip
        now, old = load.moment(str(span_s + 7200)), load.moment("-79200")
        true, false = load.true, load.false
        load.rows("contributor", PEOPLE, {
            "name": "'Person ' || i", "email": "NULL", "display_name": "'Person ' || i",
            "payout_details": "''",
            "role": "CASE WHEN i % 10 = 0 THEN 'steward' ELSE 'maker' END",
            "name_public": false, "is_commons_fund": false, "active": true,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
        load.rows("product", PRODUCTS, {
            "name": "'Product ' || i", "description": "''", "active": true,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
        load.rows("machine", MACHINES, {
            "name": "'Machine ' || i", "kind": "'printer'", "adapter": "'lab'",
            "address": "'m' || i", "provider_id": "1 + (i % 5)", "run_start_after_s": "10",
            "run_stop_after_s": "30", "idle_timeout_s": "1800", "active": true,
            "created_at": old, "updated_at": old,
        })  # fmt: skip
        load.rows("machine_status", MACHINES, {
            "machine_id": "i", "state": f"CASE WHEN {j} % 3 = 0 THEN 'running' ELSE 'idle' END",
        })  # fmt: skip
        start = f"({j} * {span_s} / {rows})"  # seconds after the origin
        end = load.moment(f"{start} + 600 + ({j} % 7) * 900")
        load.rows("machine_run", rows, {
            "machine_id": f"1 + ({j} % {MACHINES})", "status": "'ended'",
            "started_at": load.moment(start), "ended_at": end,
            "busy_s": f"540 + ({j} % 7) * 900",
            "end_reason": f"CASE {j} % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'cancelled' "
            "ELSE 'finished' END",
            "provenance": "'measured'", "flagged": false, "last_sample_at": end,
            "operator_id": f"CASE WHEN {j} % 100 = 0 THEN NULL ELSE 2 + ({j} % {PEOPLE}) END",
            "product_id": f"1 + ({j} % {PRODUCTS})", "attribution": "'session'",
            "start_event_id": f"'bench-' || {j}", "energy_wh": "50.0", "material": "12.5",
        })  # fmt: skip
        closed = load.moment(f"{start} + 1800 + ({j} % 5) * 1200")
        load.rows("lab_session", rows, {
            "contributor_id": f"2 + ({j} % {PEOPLE})", "machine_id": f"1 + ({j} % {MACHINES})",
            "product_id": f"1 + ({j} % {PRODUCTS})", "role": "'maker'",
            "opened_at": load.moment(start), "closed_at": closed,
            "close_reason": "'badge_out'", "closed_by": "'bench'", "last_activity_at": closed,
        })  # fmt: skip
        # A running lab derives contributions as events arrive, so its pages find the
        # queue empty: so do the bench's (loaded rows fire no trigger; this is a guard).
        load.connection.exec_driver_sql("DELETE FROM contribution_pending")
        # The app's own rebuild fills the rollups, into tables whose indexes are off too.
        started = time.perf_counter()
        with Session(bind=load.connection) as db:
            rebuild(db)
        load.timings["(rollups rebuilt)"] = time.perf_counter() - started
        if engine.dialect.name == "sqlite":  # rebuild leaves SQLite's default cache behind
            load.connection.exec_driver_sql(f"PRAGMA cache_size=-{LOAD_CACHE_KB}")
    if engine.dialect.name == "sqlite":  # the rollups' statistics (PostgreSQL: VACUUM ANALYZE)
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return load.timings


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
            budget = time.perf_counter() + BUDGET_S
            while len(times) < REPEATS and (
                len(times) < MIN_REPEATS or time.perf_counter() < budget
            ):
                started, used = time.perf_counter(), time.process_time()
                call()
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
            wall, used_ms = statistics.median(times), statistics.median(cpu)
            results[name] = (wall, used_ms)
            print(f"  {name}: {wall:.1f} ms ({used_ms:.1f} ms CPU, {len(times)} calls)", flush=True)
    return results


def main() -> None:
    """Build both databases, time the calls, print the table."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the app's logging sets INFO
    configured = os.environ.get("LABLEDGER_DATABASE_URL", "")
    kind = "PostgreSQL" if configured.startswith("postgresql") else "SQLite"
    figures: dict[int, dict[str, tuple[float, float]]] = {}
    for rows in SIZES:
        with tempfile.TemporaryDirectory() as folder, fresh_database(Path(folder)) as url:
            # Built in a child process: the app's rollup rebuild sorts in a large cache,
            # which is the builder's memory, not the memory of the calls measured here.
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as builder:
                steps = builder.submit(fill, url, rows).result()
            inserted = sum(took for step, took in steps.items() if not step.startswith("("))
            print(
                f"{kind}: built {rows:,} runs + {rows:,} sessions in {steps['(total)']:.1f} s "
                f"(rows {inserted:.1f} s, indexes and triggers "
                f"{steps['(indexes and triggers rebuilt)']:.1f} s, "
                f"rollups {steps['(rollups rebuilt)']:.1f} s)",
                flush=True,
            )
            figures[rows] = measure(url)
            dispose_engines()
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
    built = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak RSS {peak:.0f} MB (the calls; target < 250), {built:.0f} MB (the build); "
        f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
