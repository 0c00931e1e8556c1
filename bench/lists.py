"""List endpoints at 10,000 and 1,000,000 rows: p50 per list and how much it grows.

Each size gets its own fresh database (SQLite, or PostgreSQL when
LABLEDGER_DATABASE_URL names one), filled with set-based INSERT ... SELECT
statements over a generated series: sessions, runs, unknown scans, sales,
contributions and ledger entries, spread over 200 machines, 100 contributors
and 20 products. Each list is called through the real application (first
page, a filter, and a deep page by keyset cursor).

    python bench/lists.py [--big 1000000] [--small 10000] [--calls 15]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from support.env import fresh_database, peak_rss_mb

from app.api.keys import Role, create_key
from app.config import Settings
from app.db import get_engine
from app.main import create_app

MACHINES = 200
PEOPLE = 100
PRODUCTS = 20
BUDGET_S = 2.0  # a slow list gets at least 3 calls, then stops at this


def _series(engine: Engine, count: int) -> str:
    """A SELECT of `i` from 1 to `count`, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return f"SELECT i FROM generate_series(1, {count}) AS s(i)"
    return (
        f"SELECT i FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
        f"WHERE i < {count}) SELECT i FROM s)"
    )


def _moment(engine: Engine, seconds: str) -> str:
    """A timestamp `seconds` after 2025-01-01 in the form the service stores."""
    if engine.dialect.name == "postgresql":
        return f"(timestamptz '2025-01-01 00:00:00+00' + ({seconds}) * interval '1 second')"
    return f"(datetime('2025-01-01', '+' || ({seconds}) || ' seconds') || '.000000')"


def fill(engine: Engine, rows: int) -> None:
    """Set-based inserts of `rows` rows into each growing table."""
    series = _series(engine, rows)
    at = _moment(engine, "i * 60")
    later = _moment(engine, "i * 60 + 1800")
    false, true = ("false", "true") if engine.dialect.name == "postgresql" else ("0", "1")
    setup = [
        f"INSERT INTO contributor (name, display_name, payout_details, role, is_commons_fund,"
        f" active, created_at, updated_at) SELECT 'person ' || i, 'Person ' || i, '', 'maker',"
        f" {false}, {true}, {at}, {at} FROM ({_series(engine, PEOPLE)}) AS g",
        f"INSERT INTO machine (name, kind, adapter, address, provider_id, run_start_after_s,"
        f" run_stop_after_s, idle_timeout_s, active, created_at, updated_at)"
        f" SELECT 'machine ' || i, 'printer', 'lab', 'm' || i, 2, 10, 30, 1800, {true}, {at}, {at}"
        f" FROM ({_series(engine, MACHINES)}) AS g",
        f"INSERT INTO reader (name, protocol, address, machine_id, active, created_at, updated_at)"
        f" SELECT 'reader ' || i, 'mqtt', 'r' || i, i, {true}, {at}, {at}"
        f" FROM ({_series(engine, MACHINES)}) AS g",
        f"INSERT INTO product (name, description, active, created_at, updated_at)"
        f" SELECT 'Product ' || i, '', {true}, {at}, {at}"
        f" FROM ({_series(engine, PRODUCTS)}) AS g",
    ]
    growing = [
        f"INSERT INTO lab_session (contributor_id, machine_id, product_id, role, opened_at,"
        f" closed_at, close_reason, last_activity_at)"
        f" SELECT 2 + i % {PEOPLE}, 1 + i % {MACHINES}, 1 + i % {PRODUCTS}, 'maker', {at},"
        f" CASE WHEN i > {MACHINES} THEN {later} END,"
        f" CASE WHEN i > {MACHINES} THEN 'badge_out' END, {at} FROM ({series}) AS g",
        f"INSERT INTO machine_run (machine_id, status, started_at, ended_at, busy_s, flagged,"
        f" last_sample_at, operator_id, product_id, start_event_id)"
        f" SELECT 1 + i % {MACHINES}, 'ended', {at}, {later}, 1800, {false}, {later},"
        f" CASE WHEN i % 10 = 0 THEN NULL ELSE 2 + i % {PEOPLE} END, 1 + i % {PRODUCTS},"
        f" 'run-' || i FROM ({series}) AS g",
        f"INSERT INTO unknown_scan (reader_id, card_id, reason, at, event_id)"
        f" SELECT 1 + i % {MACHINES}, 'card' || (i % 5000), 'unknown', {at}, 'scan-' || i"
        f" FROM ({series}) AS g",
        f"INSERT INTO sale (provider, order_key, currency, occurred_at, gross_minor, fees_minor,"
        f" refunded_minor, held, reference, test, created_at)"
        f" SELECT 'stripe', 'order-' || i, 'EUR', {at}, 2500, 100, 0, {false}, '', {false}, {at}"
        f" FROM ({series}) AS g",
        f"INSERT INTO contribution (contributor_id, product_id, kind, quantity, unit, source,"
        f" status, note, occurred_at, created_at)"
        f" SELECT 2 + i % {PEOPLE}, 1 + i % {PRODUCTS}, 'labour', 3600, 'second', 'manual',"
        f" 'approved', '', {at}, {at} FROM ({series}) AS g",
        f"INSERT INTO ledger_entry (sequence, transaction_id, kind, reference, account, currency,"
        f" amount_minor, memo, occurred_at, recorded_at, prev_hash, hash)"
        f" SELECT i, 'tx-' || i, 'sale', 'ref-' || i, 'contributor:' || (i % {PEOPLE}), 'EUR',"
        f" 100, '', {at}, {at}, 'h' || (i - 1), 'h' || i FROM ({series}) AS g",
    ]
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # A throwaway database: no journal to write twice, no fsync.
            connection.exec_driver_sql("PRAGMA journal_mode=OFF")
            connection.exec_driver_sql("PRAGMA synchronous=OFF")
            connection.exec_driver_sql("PRAGMA cache_size=-65536")
        for statement in setup + growing:
            connection.execute(text(statement))
            connection.commit()
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


LISTS = [
    "/api/v1/sessions",
    "/api/v1/sessions?machine_id=7",
    "/api/v1/sessions?contributor_id=9",
    "/api/v1/sessions?product_id=3&open=false",
    "/api/v1/sessions?open=true",
    "/api/v1/runs",
    "/api/v1/runs?machine_id=7",
    "/api/v1/runs?operator_id=9",
    "/api/v1/runs?product_id=3",
    "/api/v1/runs?unattributed=true",
    "/api/v1/unknown-scans",
    "/api/v1/sales",
    "/api/v1/ledger/entries",
    "/api/v1/contributors",
]
CONTRIBUTIONS = ["/api/v1/contributions?product_id=3", "/api/v1/contributions?contributor_id=9"]


def measure(url: str, calls: int) -> dict[str, float]:
    """p50 in ms of each list's first page and of a deep page reached by cursor."""
    settings = Settings(database_url=url, mqtt_enabled=False)
    with Session(get_engine(url)) as db:
        _row, plain = create_key(db, "bench", Role.ADMIN)
    headers = {"Authorization": f"Bearer {plain}"}
    results: dict[str, float] = {}
    with TestClient(create_app(settings)) as client:
        for path in LISTS:
            first = client.get(path, headers=headers)
            if first.status_code != 200:
                raise RuntimeError(f"{path}: {first.status_code} {first.text[:200]}")
            cursor = first.json()["next"]
            for label, target in ((path, path), (f"{path} (after)", _after(path, cursor))):
                if target is None:
                    continue
                timings: list[float] = []
                budget = time.perf_counter() + BUDGET_S
                while len(timings) < calls and (len(timings) < 3 or time.perf_counter() < budget):
                    started = time.perf_counter()
                    client.get(target, headers=headers).raise_for_status()
                    timings.append((time.perf_counter() - started) * 1000)
                results[label] = statistics.median(timings)
    return results


def _after(path: str, cursor: int | None) -> str | None:
    if cursor is None:
        return None
    return f"{path}{'&' if '?' in path else '?'}after={cursor}"


def main() -> None:
    """Build both sizes, time every list on each, print p50s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument(
        "--contributions",
        action="store_true",
        help="also time /contributions (each read first derives contributions from history)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.contributions:
        LISTS.extend(CONTRIBUTIONS)
    timings: dict[int, dict[str, float]] = {}
    engine_name = ""
    for rows in (args.small, args.big):
        with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp)) as url:
            engine_name = url.split(":", 1)[0]
            started = time.perf_counter()
            fill(get_engine(url), rows)
            built = time.perf_counter() - started
            timings[rows] = measure(url, args.calls)
            get_engine(url).dispose()
        print(f"built {rows:,} rows per table in {built:.1f}s", flush=True)
    small, big = timings[args.small], timings[args.big]
    lines = [f"lists ({engine_name}): p50 ms at {args.small:,} and {args.big:,} rows per table"]
    worst_ms, worst_ratio = 0.0, 0.0
    for label in big:
        ratio = big[label] / small[label] if label in small else float("nan")
        worst_ms = max(worst_ms, big[label])
        worst_ratio = max(worst_ratio, ratio) if label in small else worst_ratio
        was = f"{small[label]:7.1f}" if label in small else "      -"
        lines.append(f"  {label:52s} {was} {big[label]:7.1f}  x{ratio:5.2f}")
    lines.append(f"  worst p50 at {args.big:,}: {worst_ms:.1f} ms (target < 50)")
    lines.append(f"  worst growth: x{worst_ratio:.2f} (target <= 2)")
    lines.append(f"  peak RSS: {peak_rss_mb():.0f} MB (target < 250)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
