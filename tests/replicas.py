"""Several real service processes (uvicorn) on one database, and a concurrent firing helper.

Each replica is `python -m uvicorn app.main:create_app --factory` in its own
process, configured only by LABLEDGER_* variables, as a deployment runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx2

from tests.broker import free_port
from tests.shops import SECRETS

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def replicas(database_url: str, count: int = 2, log_dir: Path | None = None) -> Iterator[list[str]]:
    """Start `count` service processes on `database_url`; yield their base URLs."""
    env = {
        **os.environ,
        "LABLEDGER_DATABASE_URL": database_url,
        "LABLEDGER_MQTT_ENABLED": "false",
        "LABLEDGER_LOG_LEVEL": "WARNING",
        **{f"LABLEDGER_{name.upper()}": value for name, value in SECRETS.items()},
    }
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for number in range(count):
            port = free_port()
            log = (log_dir / f"replica-{number}.log").open("wb") if log_dir else subprocess.DEVNULL
            processes.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"),
                        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            _wait_ready(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll /healthz until the replica answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"replica at {url} exited with {process.returncode}")
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"replica at {url} did not start within {timeout}s")


def fire(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run every call at once (released together by a barrier); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def post(url: str, path: str, **kwargs: Any) -> httpx2.Response:
    """POST with a generous timeout (the replicas share two cores with the suite)."""
    return httpx2.post(f"{url}{path}", timeout=60, **kwargs)
