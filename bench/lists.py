"""Every list endpoint at 10,000 and 1,000,000 rows: p50 per list and how much it grows.

Each size gets its own fresh database (SQLite, or PostgreSQL when
LABLEDGER_DATABASE_URL names one), filled by `support.bulk` with set-based
INSERT ... SELECT statements over a generated series: `rows` rows in every
table that grows with history or people (sessions, runs, unknown and denied
scans, power commands, sales and their lines, rejected deliveries,
contributions, ledger entries, payout batches and items, badges, inductions),
registers of a real lab's size (200 machines and readers, 100 contributors,
20 products, 10 machine groups) and as many undecodable messages as the
service keeps. Each list is called through the real application: its first
page, filtered, and a deeper page by keyset cursor, the two sizes in turn call
by call. Contributions are also read right after sessions and runs were closed
through the app's own routes (an operator's close, a machine's end of run), as
a lab reads them, and after closings were queued outside the app (plain SQL, a
repair), which the read derives first.

    python bench/lists.py [--big 1000000] [--small 10000] [--calls 25]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, text
from sqlmodel import Session
from support.bulk import bulk_load, series
from support.env import fresh_database, peak_rss_mb

from app.api.keys import Role, create_key
from app.config import Settings
from app.db import get_engine
from app.ingest.worker import REJECTS_KEPT
from app.lab.activity import LabSession
from app.main import create_app

MACHINES = 200
PEOPLE = 100
PRODUCTS = 20
GROUPS = 10
BUDGET_S = 2.0  # a slow list gets at least 3 calls, then stops at this
TARGET_MS = 50.0
TARGET_GROWTH = 2.0
QUEUED = 20  # closed since the last read: a minute of 200 busy machines
BACKLOG_PATH = "/api/v1/contributions?product_id=3"
CLOSED_LABEL = f"{BACKLOG_PATH} (after {QUEUED} closings by the app)"
QUEUED_LABEL = f"{BACKLOG_PATH} ({QUEUED} queued outside the app)"
#: Figures printed for what they show, not held to the list targets: a backlog queued
#: outside the app (plain SQL, a repair) is what the read's safety net pays, once.
NOT_TARGETS = {QUEUED_LABEL}
_S = LabSession.__table__  # type: ignore[attr-defined]

# Tables that grow with the lab's history (or its people): `rows` rows each
# (undecodable messages: as many as the service keeps).
GROWING = [
    "lab_session",
    "machine_run",
    "unknown_scan",
    "decode_reject",
    "denied_scan",
    "power_command",
    "sale",
    "sale_line",
    "rejected_delivery",
    "contribution",
    "ledger_entry",
    "payout_batch",
    "payout_item",
    "badge",
    "induction",
]
REGISTERS = ["contributor", "machine", "reader", "product", "machine_group", "trainer"]


def fill(engine: Engine, rows: int) -> dict[str, float]:
    """Every table a list reads: registers of a real lab's size, `rows` rows of history each.

    Returns the seconds each step took (see `support.bulk`).
    """
    with bulk_load(engine, REGISTERS + GROWING) as load:
        at, later = load.moment("i * 60"), load.moment("i * 60 + 1800")
        true, false = load.true, load.false
        person, machine, product = f"2 + i % {PEOPLE}", f"1 + i % {MACHINES}", f"1 + i % {PRODUCTS}"
        load.rows("contributor", PEOPLE, {
            "name": "'person ' || i", "display_name": "'Person ' || i", "payout_details": "''",
            "role": "'maker'", "is_commons_fund": false, "active": true, "name_public": false,
            "created_at": at, "updated_at": at,
        })  # fmt: skip
        load.rows("machine", MACHINES, {
            "name": "'machine ' || i", "kind": "'printer'", "adapter": "'lab'",
            "address": "'m' || i", "provider_id": "2", "run_start_after_s": "10",
            "run_stop_after_s": "30", "idle_timeout_s": "1800", "active": true,
            "created_at": at, "updated_at": at,
        })  # fmt: skip
        load.rows("reader", MACHINES, {
            "name": "'reader ' || i", "protocol": "'mqtt'", "address": "'r' || i",
            "machine_id": "i", "active": true, "created_at": at, "updated_at": at,
        })  # fmt: skip
        load.rows("product", PRODUCTS, {
            "name": "'Product ' || i", "description": "''", "active": true,
            "created_at": at, "updated_at": at,
        })  # fmt: skip
        load.rows("machine_group", GROUPS, {
            "name": "'group ' || i", "description": "''", "active": true,
            "created_at": at, "updated_at": at,
        })  # fmt: skip
        load.rows("trainer", PEOPLE, {
            "contributor_id": person, "group_id": f"1 + i % {GROUPS}", "note": "''",
            "appointed_at": at, "appointed_by": "'bench'",
        })  # fmt: skip
        # The first MACHINES sessions are still open, one per machine.
        load.rows("lab_session", rows, {
            "contributor_id": person, "machine_id": machine, "product_id": product,
            "role": "'maker'", "opened_at": at,
            "closed_at": f"CASE WHEN i > {MACHINES} THEN {later} END",
            "close_reason": f"CASE WHEN i > {MACHINES} THEN 'badge_out' END",
            "last_activity_at": at, "flagged": false,
        })  # fmt: skip
        load.rows("machine_run", rows, {
            "machine_id": machine, "status": "'ended'", "started_at": at, "ended_at": later,
            "busy_s": "1800", "flagged": false, "last_sample_at": later,
            "operator_id": f"CASE WHEN i % 10 = 0 THEN NULL ELSE {person} END",
            "product_id": product, "start_event_id": "'run-' || i",
        })  # fmt: skip
        load.rows("unknown_scan", rows, {
            "reader_id": machine, "card_id": "'card' || (i % 5000)", "reason": "'unknown'",
            "at": at, "event_id": "'scan-' || i",
        })  # fmt: skip
        # The ingest worker keeps only the newest REJECTS_KEPT undecodable messages.
        load.rows("decode_reject", min(rows, REJECTS_KEPT), {
            "source": "'lab/v1/machine/m' || (i % 200) || '/state'", "reason": "'not JSON'",
            "raw_hex": "'7b'", "received_at": at,
        })  # fmt: skip
        load.rows("denied_scan", rows, {
            "event_id": "'denied-' || i", "reader_id": machine, "machine_id": machine,
            "card_id": "'card' || (i % 5000)", "contributor_id": person,
            "reason": "'not_inducted'", "detail": "''", "at": at,
        })  # fmt: skip
        load.rows("power_command", rows, {
            "machine_id": machine, "want_on": true, "reason": "'session'",
            "status": "'confirmed'", "requested_at": at, "not_before": at, "attempts": "1",
            "sent_at": at, "confirmed_at": at, "detail": "''",
        })  # fmt: skip
        load.rows("sale", rows, {
            "provider": "'stripe'", "order_key": "'order-' || i", "currency": "'EUR'",
            "currency_exponent": "2", "occurred_at": at, "gross_minor": "2500",
            "fees_minor": "100", "refunded_minor": "0", "held": false, "reference": "''",
            "test": false, "created_at": at,
        })  # fmt: skip
        # One line per sale; every 50th matched no product (unallocated).
        load.rows("sale_line", rows, {
            "sale_id": "i", "position": "0", "sku": "'SKU-' || (i % 20)",
            "description": "'a board'",
            "product_id": f"CASE WHEN i % 50 = 0 THEN NULL ELSE {product} END",
            "quantity": "1", "gross_minor": "2500", "fee_minor": "100", "net_minor": "2400",
            "refunded_minor": "0", "allocated_at": at,
        })  # fmt: skip
        load.rows("rejected_delivery", rows, {
            "provider": "'stripe'", "code": "'bad_signature'", "message": "''",
            "body_sha256": "'00'", "body_size": "100", "received_at": at,
        })  # fmt: skip
        # Derived already: the labour of the older half of the sessions and the machine
        # time of the older half of the runs (the newer half is left for the backlog).
        load.rows("contribution", rows, {
            "contributor_id": person, "product_id": product,
            "kind": "CASE WHEN i % 2 = 1 THEN 'labour' ELSE 'machine' END",
            "quantity": "1800000", "unit": "'ms'",
            "source": "CASE WHEN i % 2 = 1 THEN 'session' ELSE 'run' END",
            "source_id": "(i + 1) / 2", "status": "'approved'", "note": "''",
            "occurred_at": later, "created_at": later,
        })  # fmt: skip
        load.rows("ledger_entry", rows, {
            "sequence": "i", "transaction_id": "'tx-' || i", "kind": "'sale'",
            "reference": "'ref-' || i", "account": f"'contributor:' || (i % {PEOPLE})",
            "currency": "'EUR'", "amount_minor": "100", "memo": "''", "occurred_at": at,
            "recorded_at": at, "prev_hash": "'h' || (i - 1)", "hash": "'h' || i",
        })  # fmt: skip
        load.rows("payout_batch", rows, {
            "currency": "'EUR'", "minimum_minor": "1000", "status": "'paid'",
            "created_at": at, "paid_at": later, "created_by": "'bench'",
        })  # fmt: skip
        load.rows("payout_item", rows, {
            "batch_id": "i", "contributor_id": person, "amount_minor": "1000",
            "reference": "'payout-' || i",
        })  # fmt: skip
        load.rows("badge", rows, {
            "card_id": "'card' || i", "contributor_id": person, "label": "''",
            "status": "'active'", "created_at": at,
        })  # fmt: skip
        load.rows("induction", rows, {
            "contributor_id": person, "group_id": f"1 + i % {GROUPS}",
            "trainer_id": f"2 + (i + 1) % {PEOPLE}", "granted_at": at, "note": "''",
            "recorded_at": at, "recorded_by": "'bench'",
        })  # fmt: skip
    return load.timings


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
    "/api/v1/unknown-scans?reader_id=7",
    "/api/v1/rejects",
    "/api/v1/rejects?source=lab/v1/machine/m7/",
    "/api/v1/denied-scans",
    "/api/v1/denied-scans?machine_id=7",
    "/api/v1/denied-scans?contributor_id=9",
    "/api/v1/power-commands",
    "/api/v1/power-commands?machine_id=7",
    "/api/v1/sales",
    "/api/v1/sale-lines/unallocated",
    "/api/v1/deliveries/rejected",
    "/api/v1/contributions?product_id=3",
    "/api/v1/contributions?contributor_id=9",
    "/api/v1/ledger/entries",
    "/api/v1/ledger/entries?account_prefix=contributor:9",
    "/api/v1/payouts",
    "/api/v1/badges",
    "/api/v1/badges?contributor_id=9",
    "/api/v1/inductions",
    "/api/v1/inductions?contributor_id=9",
    "/api/v1/trainers",
    "/api/v1/machine-groups",
    "/api/v1/contributors",
    "/api/v1/machines",
    "/api/v1/readers",
    "/api/v1/products",
    "/api/v1/keys",
]


def measure(urls: dict[int, str], calls: int) -> tuple[dict[int, dict[str, float]], str]:
    """p50 in ms of each list's first page and of a deep page reached by cursor, per size,
    and a line on what the app's closings cost.

    The sizes are called in turn, call by call, so a change in the machine's load
    during the run weighs on both sides of each ratio alike.
    """
    results: dict[int, dict[str, float]] = {rows: {} for rows in urls}
    with ExitStack() as stack:
        clients: dict[int, tuple[TestClient, dict[str, str]]] = {}
        devices: dict[int, dict[str, str]] = {}
        for rows, url in urls.items():
            with Session(get_engine(url)) as db:
                _row, plain = create_key(db, "bench", Role.ADMIN)
                _row, device = create_key(db, "bench device", Role.DEVICE)
            app = create_app(Settings(database_url=url, mqtt_enabled=False))
            client = stack.enter_context(TestClient(app))
            clients[rows] = (client, {"Authorization": f"Bearer {plain}"})
            devices[rows] = {"Authorization": f"Bearer {device}"}
        for path in LISTS:
            targets: dict[str, dict[int, str]] = {path: {}, f"{path} (after)": {}}
            for rows, (client, headers) in clients.items():
                first = client.get(path, headers=headers)
                if first.status_code != 200:
                    raise RuntimeError(f"{path}: {first.status_code} {first.text[:200]}")
                body = first.json()
                targets[path][rows] = path
                deeper = _after(path, body.get("next") if isinstance(body, dict) else None)
                if deeper is not None:
                    targets[f"{path} (after)"][rows] = deeper
            for label, per_size in targets.items():
                if not per_size:
                    continue
                timings: dict[int, list[float]] = {rows: [] for rows in per_size}
                budget = time.perf_counter() + BUDGET_S
                done = 0
                while done < calls and (done < 3 or time.perf_counter() < budget):
                    for rows, target in per_size.items():
                        client, headers = clients[rows]
                        started = time.perf_counter()
                        client.get(target, headers=headers).raise_for_status()
                        timings[rows].append((time.perf_counter() - started) * 1000)
                    done += 1
                for rows, taken in timings.items():
                    results[rows][label] = statistics.median(taken)
        closed, closing_ms = _after_closings(clients, devices, urls, calls)
        backlog = _with_backlog(clients, urls, calls)
        for rows in urls:
            results[rows][CLOSED_LABEL] = closed[rows]
            results[rows][QUEUED_LABEL] = backlog[rows]
    closing = ", ".join(f"{ms:.1f} ms at {rows:,}" for rows, ms in closing_ms.items())
    return results, f"  a closing through the app (p50 of the requests before each read): {closing}"


def _after_closings(
    clients: dict[int, tuple[TestClient, dict[str, str]]],
    devices: dict[int, dict[str, str]],
    urls: dict[int, str],
    calls: int,
) -> tuple[dict[int, float], dict[int, float]]:
    """p50 in ms, per size, of a contributions page read right after QUEUED closings,
    and of the closing requests themselves.

    Before each read QUEUED/2 sessions (opened in plain SQL, not timed) are closed
    by an operator (`POST /sessions/{id}/close`) and QUEUED/2 runs, started
    beforehand, end with a machine's `finished` state (`POST /events/machine`),
    each request its own transaction, as the lab's closings arrive.
    """
    reads: dict[int, list[float]] = {rows: [] for rows in urls}
    closings: dict[int, list[float]] = {rows: [] for rows in urls}
    clock = datetime.now(UTC) - timedelta(hours=2)  # device times: in order, in the past
    for call in range(calls):
        clock += timedelta(seconds=10)
        machines = [1 + (call * QUEUED // 2 + n) % MACHINES for n in range(QUEUED // 2)]
        for rows, url in urls.items():
            client, admin = clients[rows]
            sessions = _open_sessions(get_engine(url), machines)
            for machine in machines:
                _machine(client, devices[rows], machine, "running", clock)
            for session_id, machine in sessions:
                started = time.perf_counter()
                client.post(
                    f"/api/v1/sessions/{session_id}/close", headers=admin
                ).raise_for_status()
                closings[rows].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                _machine(client, devices[rows], machine, "finished", clock)
                closings[rows].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            client.get(BACKLOG_PATH, headers=admin).raise_for_status()
            reads[rows].append((time.perf_counter() - started) * 1000)
    for rows, url in urls.items():
        if (derived := _derived(url)) < calls * QUEUED:
            raise RuntimeError(f"closings at {rows:,}: {derived} derived of {calls * QUEUED}")
    return (
        {rows: statistics.median(taken) for rows, taken in reads.items()},
        {rows: statistics.median(taken) for rows, taken in closings.items()},
    )


def _open_sessions(engine: Engine, machines: list[int]) -> list[tuple[int, int]]:
    """(session id, machine id): an open session on each machine, opened now if it had none."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        found = connection.execute(
            select(_S.c.id, _S.c.machine_id).where(
                _S.c.closed_at.is_(None), _S.c.machine_id.in_(machines)
            )
        ).all()
        had = {machine for _id, machine in found}
        rows = [
            {
                "contributor_id": 2 + machine % PEOPLE,
                "machine_id": machine,
                "product_id": 3,
                "role": "maker",
                "opened_at": now,
                "last_activity_at": now,
                "flagged": False,
            }
            for machine in machines
            if machine not in had
        ]
        if rows:
            found += connection.execute(insert(_S).returning(_S.c.id, _S.c.machine_id), rows).all()
    return [(session_id, machine) for session_id, machine in found]


def _machine(
    client: TestClient, device: dict[str, str], machine: int, state: str, moment: datetime
) -> None:
    """A machine's state through the app's device route (`fill` gave machine i address mi)."""
    at = moment + timedelta(seconds=5 if state == "finished" else 0)
    body = {"machine": f"m{machine}", "state": state, "at": at.isoformat()}
    client.post("/api/v1/events/machine", json=body, headers=device).raise_for_status()


def _with_backlog(
    clients: dict[int, tuple[TestClient, dict[str, str]]], urls: dict[int, str], calls: int
) -> dict[int, float]:
    """p50 in ms, per size, of a contributions page whose read first derives a fresh backlog.

    Before each call QUEUED/2 closed sessions and QUEUED/2 ended runs not derived
    yet are queued in plain SQL, as the database triggers queue a change made
    outside the app (a repair, a hand-written UPDATE): the read's safety net
    derives those first, and pays for them, not for the history behind them.
    """
    timings: dict[int, list[float]] = {rows: [] for rows in urls}
    before = {rows: _derived(url) for rows, url in urls.items()}
    for call in range(calls):
        for rows, url in urls.items():
            engine = get_engine(url)
            first = rows // 2 + 1 + call * QUEUED // 2  # the newer half is not derived yet
            with engine.begin() as connection:
                for source in ("session", "run"):
                    connection.execute(
                        text(
                            "INSERT INTO contribution_pending (source, source_id) SELECT :source,"
                            f" i + {first - 1} FROM {series(engine.dialect.name, QUEUED // 2)}"
                        ),
                        {"source": source},
                    )
            client, headers = clients[rows]
            started = time.perf_counter()
            client.get(BACKLOG_PATH, headers=headers).raise_for_status()
            timings[rows].append((time.perf_counter() - started) * 1000)
    for rows, url in urls.items():
        with get_engine(url).connect() as connection:
            left = connection.execute(text("SELECT count(*) FROM contribution_pending")).scalar()
        derived = _derived(url) - before[rows]
        if left or derived < calls * QUEUED:
            raise RuntimeError(f"backlog at {rows:,}: {left} still queued, {derived} derived")
    return {rows: statistics.median(taken) for rows, taken in timings.items()}


def _derived(url: str) -> int:
    """How many contributions were derived from sessions and runs so far."""
    with get_engine(url).connect() as connection:
        query = text("SELECT count(*) FROM contribution WHERE created_by = 'auto'")
        return int(connection.execute(query).scalar() or 0)


def _after(path: str, cursor: int | None) -> str | None:
    if cursor is None:
        return None
    return f"{path}{'&' if '?' in path else '?'}after={cursor}"


def main() -> None:
    """Build both sizes, time every list on each, print p50s and ratios; exit 1 on a miss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=25)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the app's logging sets INFO
    urls: dict[int, str] = {}
    with ExitStack() as stack:
        for rows in (args.small, args.big):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(fresh_database(folder))
            steps = fill(get_engine(url), rows)
            slowest = sorted(
                (k for k in steps if not k.startswith("(")), key=steps.__getitem__, reverse=True
            )[:3]
            print(
                f"built {rows:,} rows per history table in {steps['(total)']:.1f}s"
                f" (indexes and triggers {steps['(indexes and triggers rebuilt)']:.1f}s; slowest: "
                + ", ".join(f"{k} {steps[k]:.1f}s" for k in slowest)
                + ")",
                flush=True,
            )
            urls[rows] = url
        engine_name = urls[args.big].split(":", 1)[0].split("+")[0]
        timings, closing = measure(urls, args.calls)
    small, big = timings[args.small], timings[args.big]
    lines = [f"lists ({engine_name}): p50 ms at {args.small:,} and {args.big:,} rows per table"]
    worst_ms, worst_ratio = 0.0, 0.0
    for label in big:
        ratio = big[label] / small[label] if label in small else float("nan")
        was = f"{small[label]:7.1f}" if label in small else "      -"
        if label in NOT_TARGETS:
            lines.append(f"  {label:66s} {was} {big[label]:7.1f}  x{ratio:5.2f}  (not a target)")
            continue
        worst_ms = max(worst_ms, big[label])
        worst_ratio = max(worst_ratio, ratio) if label in small else worst_ratio
        mark = "" if big[label] < TARGET_MS and not ratio > TARGET_GROWTH else "  MISSED"
        lines.append(f"  {label:66s} {was} {big[label]:7.1f}  x{ratio:5.2f}{mark}")
    lines.append(closing)
    rss = peak_rss_mb()
    lines.append(f"  worst p50 at {args.big:,}: {worst_ms:.1f} ms (target < {TARGET_MS:.0f})")
    lines.append(f"  worst growth: x{worst_ratio:.2f} (target <= {TARGET_GROWTH:.0f})")
    lines.append(f"  peak RSS: {rss:.0f} MB (target < 250)")
    print("\n".join(lines))
    if worst_ms >= TARGET_MS or worst_ratio > TARGET_GROWTH or rss >= 250:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
