"""Ingest scale-out: one replica against two, real service processes sharing slot leases.

Each run gets a fresh database (PostgreSQL when LABLEDGER_DATABASE_URL names
one; SQLite otherwise, which has one writer and does not scale), the 200-machine
lab, and a private broker. The replicas (`python -m app serve`, 4 ingest slots,
each reading its own machines' topics) start and balance their slots; then the backlog
is published and the figure is messages per second from the first publish
until the database holds every event once.

    python bench/scaleout.py [--messages 12000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from ingest import expected_events, publish
from sqlalchemy import func, select
from sqlmodel import Session
from support.env import Broker, free_port, fresh_database, peak_rss_mb
from support.fleet import backlog, build_lab

from app.db import get_engine
from app.lab.activity import DeviceEvent

SLOTS = 4


def _replica(url: str, broker_port: int, http_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LABLEDGER_DATABASE_URL": url,
        "LABLEDGER_MQTT_HOST": "127.0.0.1",
        "LABLEDGER_MQTT_PORT": str(broker_port),
        "LABLEDGER_MQTT_CLIENT_ID": "bench",
        "LABLEDGER_INGEST_SLOTS": str(SLOTS),
        "LABLEDGER_INGEST_LEASE_TTL_S": "4",
        "LABLEDGER_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(http_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _slots(port: int) -> int:
    try:
        body = httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=2).json()
    except (httpx2.HTTPError, ValueError):
        return -1
    return len(body["mqtt"]["slots"] or [])


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def run(replicas: int, messages: int) -> float:
    """Messages per second for `replicas` processes on a fresh database and broker."""
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp)) as url:
        broker = Broker(Path(tmp))
        broker.start()
        engine = get_engine(url)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            machines = build_lab(engine)
            stream = list(backlog(machines, messages))
            expected, _states = expected_events(url, stream)
            ports = [free_port() for _ in range(replicas)]
            processes = [_replica(url, broker.port, port) for port in ports]
            _wait(lambda: sum(max(0, _slots(p)) for p in ports) == SLOTS, 180, "slots")
            _wait(lambda: all(_slots(p) == SLOTS // replicas for p in ports), 60, "balance")
            started = time.perf_counter()
            publish(broker.port, stream)

            def recorded() -> int:
                with Session(engine) as db:
                    return int(
                        db.execute(select(func.count()).select_from(DeviceEvent)).scalar_one()
                    )

            # Power and Bambu codecs stamp events with the time they hear them, so the
            # count is only roughly known in advance: drained = nothing new for 5 s.
            count, last_change = 0, time.perf_counter()
            while time.perf_counter() - last_change < 5 or count < expected * 0.9:
                now_count = recorded()
                if now_count != count:
                    count, last_change = now_count, time.perf_counter()
                if time.perf_counter() - started > 1800:
                    raise RuntimeError(f"recorded {count} of about {expected} events")
                time.sleep(0.2)
            elapsed = last_change - started
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(30)
            broker.stop()
            engine.dispose()
    return messages / elapsed


def main() -> None:
    """One replica, then two, on the same backlog; print both and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=12000)  # seconds of steady draining per run
    args = parser.parse_args()
    one = run(1, args.messages)
    two = run(2, args.messages)
    engine_name = os.environ.get("LABLEDGER_DATABASE_URL", "sqlite").split(":", 1)[0]
    print(  # the bench's figures
        f"scale-out ({engine_name}): {args.messages} messages, {SLOTS} ingest slots\n"
        f"  one replica  : {one:8.0f} msg/s\n"
        f"  two replicas : {two:8.0f} msg/s\n"
        f"  ratio        : {two / one:8.2f} x (target >= 1.8)\n"
        f"  peak RSS (bench process; replicas report theirs at /metrics): {peak_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
