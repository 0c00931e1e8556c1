"""A throwaway PostgreSQL cluster of the test's own, which the test may stop and start at will.

The suite's shared server is never stopped: fault tests that take the database
away run `initdb` into a temporary folder and `pg_ctl` on a free port. The
binaries are found with `pg_config --bindir`, then the usual packaged places,
then PATH; without them the fixture fails saying what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.broker import free_port

PACKAGED_BINDIRS = "/usr/lib/postgresql/*/bin"
RUN_AS = "postgres"  # initdb refuses root; as root, the cluster belongs to this user


class PostgresMissing(RuntimeError):
    """initdb and pg_ctl cannot be found."""


def postgres_bindir() -> Path:
    """The folder holding initdb and pg_ctl, or PostgresMissing saying what to install."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob(PACKAGED_BINDIRS), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresMissing(
        "the PostgreSQL server binaries (initdb, pg_ctl) were not found via pg_config, "
        f"{PACKAGED_BINDIRS} or PATH: install the postgresql package (apt-get install postgresql)"
    )


class PgCluster:
    """One cluster in a temporary folder: `url` works once `start()` returned."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="labledger-fault-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, RUN_AS)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def url(self) -> str:
        """The URL of its `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr.strip()[-2000:]}\n{log}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut, as in a restart)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        """Whether the server runs."""
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]
        if self._as_root:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def remove(self) -> None:
        """Stop it if it runs and delete its folder."""
        if self.running():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
