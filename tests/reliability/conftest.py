"""Fixtures of the reliability suite: real service processes beside the suite's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.service import ServiceProcess


@pytest.fixture
def service_process(
    database_url: str, engine, tmp_path: Path
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start real service processes on the suite's database; all are stopped afterwards."""
    started: list[ServiceProcess] = []

    def start(**settings: str) -> ServiceProcess:
        log_path = tmp_path / f"service-{len(started) + 1}.log"
        process = ServiceProcess(database_url, log_path, **settings)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def settings_for_schemathesis(settings):
    """The test settings (the app is driven in-process, lifespan included)."""
    return settings
