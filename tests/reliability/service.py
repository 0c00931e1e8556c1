"""A real service process (`python -m app serve`) on a free port, with its log captured."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.broker import free_port


class ServiceProcess:
    """One `labledger serve` process; its stderr (the JSON log) goes to a file."""

    def __init__(self, database_url: str, log_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "LABLEDGER_DATABASE_URL": database_url,
            "LABLEDGER_MQTT_ENABLED": "false",
            "LABLEDGER_LOG_LEVEL": "INFO",
            **{f"LABLEDGER_{name.upper()}": value for name, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        """Start and wait until /healthz answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=log,
                cwd=self.log_path.parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx2.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx2.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"service did not start within {timeout} s")

    def rss_bytes(self) -> int:
        """The process's resident memory."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
