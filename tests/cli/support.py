"""Running the `labledger` command as a user would, and seeing what it left on disk."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str, database_url: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `python -m app ARGS` with the database setting and extra variables."""
    environment = {**os.environ, "LABLEDGER_DATABASE_URL": database_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the hash of its bytes.

    SQLite's WAL side files (`-wal`, `-shm`) are left out: a read-only reader of a
    WAL database creates them empty, and they hold no data.
    """
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a failed command printed, checked to be a single line and no traceback."""
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
