"""Every way the database setting can be wrong ends in one line naming the setting and the fix,
and leaves nothing behind: no empty file, no half schema."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, inspect, text

from app.db import upgrade_database
from tests.cli.support import one_line_error, run_cli, snapshot
from tests.databases import throwaway_database


def test_ledger_verify_on_a_missing_sqlite_file_says_to_upgrade_and_creates_nothing(tmp_path):
    result = run_cli("ledger", "verify", database_url=f"sqlite:///{tmp_path}/lab.db")
    line = one_line_error(result)
    assert "there is no database at" in line
    assert "LABLEDGER_DATABASE_URL" in line and "labledger db upgrade" in line
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize(
    "command", [["keys", "create", "--role", "admin", "--name", "a"], ["db", "upgrade"]]
)
def test_a_missing_directory_names_it_and_creates_nothing(tmp_path, command):
    result = run_cli(*command, database_url=f"sqlite:///{tmp_path}/nope/lab.db")
    line = one_line_error(result)
    assert f"the directory {tmp_path}/nope does not exist" in line
    assert f"mkdir -p {tmp_path}/nope" in line and "LABLEDGER_DATABASE_URL" in line
    assert not (tmp_path / "nope").exists()
    assert snapshot(tmp_path) == {}


def test_keys_create_on_an_unmigrated_database_says_to_upgrade_and_writes_nothing(tmp_path):
    with throwaway_database(os.environ.get("LABLEDGER_DATABASE_URL"), tmp_path) as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE unrelated (x INTEGER)"))
        before = snapshot(tmp_path)
        result = run_cli("keys", "create", "--role", "admin", "--name", "a", database_url=url)
        line = one_line_error(result)
        assert "has no LabLedger schema" in line
        assert "run `labledger db upgrade`" in line and "LABLEDGER_MIGRATE_ON_START" in line
        assert set(inspect(engine).get_table_names()) == {"unrelated"}
        engine.dispose()
        if url.startswith("sqlite"):
            assert snapshot(tmp_path) == before


def test_an_older_schema_names_its_revision(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade_database(url, "0003")
    before = snapshot(tmp_path)
    line = one_line_error(run_cli("ledger", "verify", database_url=url))
    assert "is at revision 0003 and needs" in line and "labledger db upgrade" in line
    assert snapshot(tmp_path) == before


def test_a_schema_newer_than_the_code_says_to_upgrade_labledger(tmp_path):
    url = f"sqlite:///{tmp_path}/new.db"
    upgrade_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    before = snapshot(tmp_path)
    for command in (["ledger", "verify"], ["db", "upgrade"]):
        line = one_line_error(run_cli(*command, database_url=url))
        assert "revision 9999, which this LabLedger does not know" in line
        assert "upgrade LabLedger" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("url", "reason", "fix"),
    [
        (
            "postgresql+psycopg://lab:secret@127.0.0.1:1/lab",
            "connection refused",
            "start the database server",
        ),
        (
            "postgresql+psycopg://lab:secret@no-such-host.invalid/lab",
            "host name not found",
            "fix the host name",
        ),
    ],
)
def test_an_unreachable_server_gives_the_reason_and_hides_the_password(url, reason, fix):
    line = one_line_error(run_cli("ledger", "verify", database_url=url))
    assert reason in line and fix in line and "LABLEDGER_DATABASE_URL" in line
    assert "secret" not in line and "***" in line


def test_a_url_that_does_not_parse_names_the_setting(tmp_path):
    line = one_line_error(run_cli("db", "current", database_url="sqlite:::", cwd=tmp_path))
    assert "LABLEDGER_DATABASE_URL" in line and "is not a database URL" in line
    assert snapshot(tmp_path) == {}


def test_db_current_reports_the_revision_and_whether_it_is_the_newest(tmp_path):
    url = f"sqlite:///{tmp_path}/lab.db"
    upgrade_database(url, "0003")
    behind = run_cli("db", "current", database_url=url)
    assert behind.returncode == 1
    assert "0003" in behind.stdout and "labledger db upgrade" in behind.stderr
    assert run_cli("db", "upgrade", database_url=url).returncode == 0
    current = run_cli("db", "current", database_url=url)
    assert current.returncode == 0, current.stderr
    revision = current.stdout.split(": ", 1)[1].split(" ", 1)[0]
    assert f"(newest {revision})" in current.stdout


def test_a_misspelled_variable_is_warned_about_with_the_nearest_name(tmp_path):
    (tmp_path / ".env").write_text("LABLEDGER_MQTT_HOSTNAME=broker.lab\n")
    result = run_cli(
        "db",
        "upgrade",
        database_url=f"sqlite:///{tmp_path}/lab.db",
        cwd=tmp_path,
        LABLEDGER_DATABSE_URL="sqlite:///x.db",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "LABLEDGER_DATABSE_URL (in the environment) is not a LabLedger setting; "
        "did you mean LABLEDGER_DATABASE_URL?" in result.stderr
    )
    assert (
        "LABLEDGER_MQTT_HOSTNAME (in .env) is not a LabLedger setting; did you mean LABLEDGER_MQTT_HOST?"
        in result.stderr
    )


def test_alembic_run_by_hand_uses_the_projects_setting(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    url = f"sqlite:///{tmp_path}/by-hand.db"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(root / "alembic.ini"), "upgrade", "head"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        check=False,
        env={**os.environ, "LABLEDGER_DATABASE_URL": url},
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    assert "contributor" in inspect(engine).get_table_names()
    engine.dispose()
    assert not (root / "labledger.db").exists() or "by-hand" not in str(root / "labledger.db")
