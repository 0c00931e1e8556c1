"""Fixtures of the reliability suite: real service processes beside the suite's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.pg_cluster import PgCluster, PostgresMissing
from tests.reliability.service import ServiceProcess


@pytest.fixture
def service_process(
    database_url: str, engine, tmp_path: Path
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start real service processes on the suite's database; all are stopped afterwards."""
    started: list[ServiceProcess] = []

    def start(on: str | None = None, **settings: str) -> ServiceProcess:
        """A service on the suite's database, or `on` another one (a fault test's own)."""
        log_path = tmp_path / f"service-{len(started) + 1}.log"
        process = ServiceProcess(on or database_url, log_path, **settings)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def settings_for_schemathesis(settings):
    """The test settings (the app is driven in-process, lifespan included)."""
    return settings


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of this test's own (made, not started): it may stop and start it.

    Fails (never skips) when the server binaries are missing, saying what to install.
    """
    try:
        cluster = PgCluster()
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    yield cluster
    cluster.remove()
