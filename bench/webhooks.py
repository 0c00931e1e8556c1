"""Benchmark: signed Stripe sales into a real uvicorn service, from a load generator.

Three processes: this one seeds a fresh database and generates the load (a
small asyncio HTTP/1.1 client with keep-alive connections); the service runs
in its own uvicorn process (with `--workers N`, N worker processes under
uvicorn's supervisor); the baseline, a bare FastAPI `async def` app that
reads the body and answers, runs in another, measured the same way in the
same run. The database is SQLite, or a throwaway PostgreSQL database beside
the one LABLEDGER_DATABASE_URL names when that is a PostgreSQL URL. Figures
(issue 10, target 2):

- closed-loop burst: sales/s for a product with 10 and with 1,000 contributors
  (targets 500/s and 100/s), and the baseline's requests/s;
- open loop at 50 sales/s (1,000 contributors): p50/p99 latency, counted from
  when each request was due, not from when it was sent (target p99 < 100 ms);
- `/healthz` p99 while the burst runs (target < 20 ms);
- peak RSS of the service process (target < 250 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI, Request

SECRET = "whsec_bench"
CONCURRENCY = 32
BURST_SECONDS = 10.0
BURST_MAX = {10: 6000, 1000: 1500}
OPEN_RATE = 50.0
OPEN_SECONDS = 8.0
OPEN_DRAIN_S = 10.0
HEALTH_EVERY_S = 0.02
CONTRIBUTIONS_EACH = 3


# --- the baseline: a bare FastAPI app ---------------------------------------------------------


def _baseline_app() -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/stripe")
    async def stripe(request: Request) -> dict[str, object]:
        body = await request.body()
        return {"received": 1, "size": len(body)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- a minimal asyncio HTTP/1.1 client --------------------------------------------------------


class _Connection:
    """One keep-alive connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


# --- signed Stripe sales ----------------------------------------------------------------------


@dataclass
class _Sales:
    """Makes unique signed checkout.session.completed deliveries."""

    sku: str
    counter: int = 0

    def next(self) -> tuple[bytes, dict[str, str]]:
        self.counter += 1
        n = f"{self.sku}-{self.counter}-{os.getpid()}"
        lines = [{"sku": self.sku, "quantity": 1, "amount": 4990}]
        event = {
            "id": f"evt_{n}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"cs_{n}",
                    "object": "checkout.session",
                    "amount_total": 4990,
                    "currency": "eur",
                    "payment_status": "paid",
                    "payment_intent": f"pi_{n}",
                    "metadata": {"lines": json.dumps(lines)},
                }
            },
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        t = int(time.time())
        signature = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return body, {
            "Stripe-Signature": f"t={t},v1={signature}",
            "Content-Type": "application/json",
        }


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class _Burst:
    done: int = 0
    errors: int = 0
    seconds: float = 0.0
    health_ms: list[float] = field(default_factory=list)
    cpu_ms_per_sale: float = float("nan")

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


async def _health_probe(port: int, stop: asyncio.Event, into: list[float]) -> None:
    connection = await _Connection.open(port)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await connection.request("GET", "/healthz")
            into.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(HEALTH_EVERY_S)
    finally:
        connection.close()


async def _burst(port: int, make: Callable[[], tuple[bytes, dict[str, str]]], most: int) -> _Burst:
    """CONCURRENCY clients send back to back until `most` are done or the time is up."""
    result = _Burst()
    stop = asyncio.Event()
    deadline = time.perf_counter() + BURST_SECONDS
    started = time.perf_counter()

    async def client() -> None:
        connection = await _Connection.open(port)
        try:
            while result.done + result.errors < most and time.perf_counter() < deadline:
                body, headers = make()
                status, _ = await connection.request("POST", "/webhooks/stripe", body, headers)
                if status == 200:
                    result.done += 1
                else:
                    result.errors += 1
        finally:
            connection.close()

    probe = asyncio.create_task(_health_probe(port, stop, result.health_ms))
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    result.seconds = time.perf_counter() - started
    stop.set()
    await probe
    return result


async def _open_loop(
    port: int, make: Callable[[], tuple[bytes, dict[str, str]]]
) -> tuple[list[float], int]:
    """OPEN_RATE requests a second, each due at a fixed time whatever the others do.

    Returns the latencies and how many were still unanswered OPEN_DRAIN_S after
    the last was due (those count as OPEN_DRAIN_S in the latencies).
    """
    pool: list[_Connection] = []
    latencies: list[float] = []

    async def one(due: float) -> None:
        connection = pool.pop() if pool else await _Connection.open(port)
        body, headers = make()
        status, _ = await connection.request("POST", "/webhooks/stripe", body, headers)
        if status != 200:
            raise RuntimeError(f"sale answered {status}")
        latencies.append((time.perf_counter() - due) * 1000)
        pool.append(connection)

    start = time.perf_counter() + 0.1
    tasks = []
    for i in range(int(OPEN_RATE * OPEN_SECONDS)):
        due = start + i / OPEN_RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    _, pending = await asyncio.wait(tasks, timeout=OPEN_DRAIN_S)
    for task in pending:
        task.cancel()
    latencies += [OPEN_DRAIN_S * 1000] * len(pending)
    for connection in pool:
        connection.close()
    return latencies, len(pending)


# --- processes --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *args,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, **env},
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children so far (uvicorn's workers).

    A figure the machine's load barely moves.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(child) for child in _children(pid))


def _peak_rss_mb(pid: int) -> float:
    """Peak RSS of a process, or of the largest of its children (uvicorn's workers)."""
    children = _children(pid)
    if children:
        return max(_peak_rss_mb(child) for child in children)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    """The live child processes of `pid` (uvicorn's workers)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers, so none is still answering when the database goes."""
    workers = _children(process.pid)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    deadline = time.monotonic() + 15
    for worker in workers:
        while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{worker}").exists():
            os.kill(worker, signal.SIGKILL)


def _seed(url: str) -> None:
    """Two products, sold as bench-10 and bench-1000, with that many contributors each."""
    from sqlmodel import Session

    from app.accounting.contributions.tables import Contribution
    from app.accounting.products.tables import Product, ProductSku
    from app.db import get_engine
    from app.lab.models import Contributor

    engine = get_engine(url)
    when = datetime.now(UTC) - timedelta(days=1)
    with Session(engine) as db:
        for size in (10, 1000):
            product = Product(name=f"bench {size}")
            db.add(product)
            db.flush()
            db.add(ProductSku(product_id=product.id, sku=f"bench-{size}"))
            people = [
                Contributor(name=f"p{size}-{i}", display_name=f"P {size}/{i}") for i in range(size)
            ]
            db.add_all(people)
            db.flush()
            for i, person in enumerate(people):
                for j in range(CONTRIBUTIONS_EACH):
                    db.add(
                        Contribution(
                            contributor_id=person.id,
                            product_id=product.id,
                            kind="labour",
                            quantity=(i + 1) * 600_000 + j * 7_000,
                            unit="ms",
                            source="manual",
                            status="approved",
                            occurred_at=when,
                            created_by="bench",
                            decided_by="bench",
                            decided_at=when,
                        )
                    )
        db.commit()
    engine.dispose()


@dataclass
class _Figures:
    burst10: _Burst
    burst1000: _Burst
    open10: tuple[list[float], int]
    open1000: tuple[list[float], int]
    rss_mb: float


async def _measure(
    port: int, pid: int
) -> tuple[_Burst, _Burst, tuple[list[float], int], tuple[list[float], int]]:
    small, large = _Sales("bench-10"), _Sales("bench-1000")
    cpu = _cpu_seconds(pid)
    burst10 = await _burst(port, small.next, BURST_MAX[10])
    cpu, used = _cpu_seconds(pid), _cpu_seconds(pid) - cpu
    burst10.cpu_ms_per_sale = used * 1000 / max(burst10.done, 1)
    print(f"  .. burst, 10 contributors: {burst10.rate:.0f} sales/s", file=sys.stderr)
    burst1000 = await _burst(port, large.next, BURST_MAX[1000])
    burst1000.cpu_ms_per_sale = (_cpu_seconds(pid) - cpu) * 1000 / max(burst1000.done, 1)
    print(f"  .. burst, 1,000 contributors: {burst1000.rate:.1f} sales/s", file=sys.stderr)
    open10 = await _open_loop(port, small.next)
    open1000 = await _open_loop(port, large.next)
    return burst10, burst1000, open10, open1000


def _run_service(url: str, workers: int) -> _Figures:
    _seed(url)
    port = _free_port()
    env = {
        "LABLEDGER_DATABASE_URL": url,
        "LABLEDGER_MQTT_ENABLED": "false",
        "LABLEDGER_STRIPE_WEBHOOK_SECRETS": SECRET,
        "LABLEDGER_LOG_LEVEL": "WARNING",
    }
    args = ["--factory", "app.main:create_app"]
    if workers > 1:
        args += ["--workers", str(workers)]
    server = _serve(args, env, port)
    try:
        time.sleep(2 if workers > 1 else 0)  # every worker up, not only the first
        burst10, burst1000, open10, open1000 = asyncio.run(_measure(port, server.pid))
        rss = _peak_rss_mb(server.pid)
    finally:
        _stop(server)
    return _Figures(burst10, burst1000, open10, open1000, rss)


def _run_baseline() -> tuple[_Burst, tuple[list[float], int]]:
    port = _free_port()
    server = _serve(["--factory", "bench.webhooks:_baseline_app"], {}, port)
    try:
        sales = _Sales("baseline")

        async def both() -> tuple[_Burst, tuple[list[float], int]]:
            return await _burst(port, sales.next, BURST_MAX[10]), await _open_loop(port, sales.next)

        return asyncio.run(both())
    finally:
        _stop(server)


def _line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<44} {value:>14}  {target}")


def main() -> int:
    """Run both servers, print the figures with their baselines; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes of the service"
    )
    options = parser.parse_args()
    # Run as a script (as `make bench` does), so `support` sits beside it; uvicorn's
    # processes import this file as `bench.webhooks` and never need it.
    from support.env import fresh_database

    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp)) as url:
        service = _run_service(url, options.workers)
        database = url.split(":", 1)[0].split("+", 1)[0]
    base_burst, (base_open, _) = _run_baseline()
    base_rate = base_burst.rate or float("nan")
    b10, b1000 = service.burst10, service.burst1000
    (open10, late10), (open1000, late1000) = service.open10, service.open1000
    p99_health = _percentile(b10.health_ms + b1000.health_ms, 99)
    base_p99 = _percentile(base_open, 99)
    workers = f"{options.workers} workers" if options.workers > 1 else "1 process"
    print(f"webhooks: signed Stripe sales, uvicorn ({workers}) + {database}, {CONCURRENCY} clients")
    _line("baseline (bare FastAPI async def): req/s", f"{base_burst.rate:.0f}")
    _line(
        "sales/s, 10 contributors",
        f"{b10.rate:.0f}",
        f"target >= 500; {b10.rate / base_rate:.2f} x baseline; errors {b10.errors}",
    )
    _line(
        "sales/s, 1,000 contributors",
        f"{b1000.rate:.1f}",
        f"target >= 100; {b1000.rate / base_rate:.3f} x baseline; errors {b1000.errors}",
    )
    _line(
        "service CPU per sale, 10 / 1,000 contributors, ms",
        f"{b10.cpu_ms_per_sale:.1f} / {b1000.cpu_ms_per_sale:.1f}",
        "user + system time of the service process over each burst",
    )
    for label, values, late in (("10", open10, late10), ("1,000", open1000, late1000)):
        _line(
            f"open loop 50/s, {label} contributors: p50 / p99 ms",
            f"{_percentile(values, 50):.0f} / {_percentile(values, 99):.0f}",
            f"target p99 < 100; baseline p99 {base_p99:.1f} ms; unanswered {late}",
        )
    _line(
        "/healthz during the bursts: p99 ms",
        f"{p99_health:.1f}",
        f"target < 20; baseline p99 {_percentile(base_burst.health_ms, 99):.1f} ms",
    )
    _line("peak RSS of the service (largest worker), MB", f"{service.rss_mb:.0f}", "target < 250")
    met = (
        b10.rate >= 500
        and b1000.rate >= 100
        and _percentile(open10, 99) < 100
        and _percentile(open1000, 99) < 100
        and p99_health < 20
        and service.rss_mb < 250
        and b10.errors == b1000.errors == 0
    )
    print(f"  targets met: {'yes' if met else 'NO'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
