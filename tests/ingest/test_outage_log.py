"""A database outage is one warning when it starts and one when it ends, not a traceback per retry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.ingest.outage import OutageLog


def _unreachable_database_error(tmp_path: Path) -> OperationalError:
    engine = create_engine(f"sqlite:///{tmp_path}/no/such/dir/lab.db")
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("a database in a missing directory opened")


def test_an_outage_is_said_once_and_its_end_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test.outage")
    outage = OutageLog(log, "ingest worker")
    error = _unreachable_database_error(tmp_path)
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        assert all(outage.quiet(error) for _ in range(5))
        outage.answered()
        outage.answered()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith(
        "ingest worker: the database is unavailable (unable to open database"
    )
    assert lines[1] == "ingest worker: the database answers again"
    assert not any(record.exc_info for record in caplog.records)


def test_other_errors_are_left_to_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog(logging.getLogger("test.outage"), "interlock driver")
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        assert not outage.quiet(ValueError("a bug"))
        outage.answered()
    assert caplog.records == []
    assert not outage.down
