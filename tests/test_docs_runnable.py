"""The commands the README and docs/*.md give, run as written.

A code block fenced as ```sh runnable is a promise: run in order, with the
file's other runnable blocks, in a fresh folder beside a fresh service (what
`make run` starts: SQLite in ./labledger.db, migrated at start-up), it
succeeds. The service listens on a free port, so the documented
http://127.0.0.1:8000 is pointed there; `labledger` and `.venv/bin/labledger`
are this checkout's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import free_port

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_URL = "http://127.0.0.1:8000"
BLOCK = re.compile(r"^```sh runnable\n(.*?)^```$", re.S | re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def runnable_blocks(page: Path) -> list[str]:
    """The page's runnable blocks, in order."""
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def _environment(folder: Path, port: int) -> dict[str, str]:
    venv = Path(sys.executable).parent
    (folder / ".venv").symlink_to(venv.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env.update(
        PATH=f"{venv}{os.pathsep}{env.get('PATH', '')}",
        LABLEDGER_HTTP_PORT=str(port),
        LABLEDGER_MQTT_ENABLED="false",
    )
    return env


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    """A fresh folder, its environment, and the URL of a service started there as `make run` does."""
    port = free_port()
    env = _environment(tmp_path, port)
    log = (tmp_path / "service.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        cwd=tmp_path,
        env={**env, "LABLEDGER_MIGRATE_ON_START": "true"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        assert process.poll() is None, (tmp_path / "service.log").read_text()
        assert time.monotonic() < deadline, "the service did not become ready"
        time.sleep(0.2)
    yield tmp_path, env, url
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_the_pages_have_runnable_blocks():
    counted = {page.name: len(runnable_blocks(page)) for page in PAGES}
    for name in ("README.md", "devices.md", "cli.md", "equations.md"):
        assert counted[name] >= 1, counted


@pytest.mark.parametrize("page", [p for p in PAGES if runnable_blocks(p)], ids=lambda p: p.name)
def test_runnable_blocks_succeed_as_written(page, service):
    folder, env, url = service
    script = "set -euo pipefail\n" + "\n".join(
        block.replace(DOCUMENTED_URL, url) for block in runnable_blocks(page)
    )
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"{page.name}: a runnable block failed\n--- stdout\n{result.stdout[-3000:]}"
        f"\n--- stderr\n{result.stderr[-3000:]}"
    )
