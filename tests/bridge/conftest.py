"""Fixtures of the bridge tests: a subscriber on the lab broker, ptys closed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bridge.support import Pty, Subscriber


@pytest.fixture
def lab(broker) -> Iterator[Subscriber]:
    """A subscriber on the lab broker (`broker` fixture), persistent across restarts."""
    subscriber = Subscriber(broker.port)
    yield subscriber
    subscriber.close()


@pytest.fixture
def ptys() -> Iterator[list[Pty]]:
    """Make ptys with `ptys.append(Pty())`; all are closed after the test."""
    made: list[Pty] = []
    yield made
    for pty in made:
        pty.close()
