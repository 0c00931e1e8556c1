"""The fault tests' own PostgreSQL: found where installed, or a clear failure saying what to do."""

from __future__ import annotations

import pytest

from tests.reliability import pg_cluster
from tests.reliability.pg_cluster import PostgresMissing, postgres_bindir


def test_missing_server_binaries_fail_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(pg_cluster.shutil, "which", lambda _name: None)
    monkeypatch.setattr(pg_cluster, "PACKAGED_BINDIRS", str(tmp_path / "none" / "*" / "bin"))
    with pytest.raises(PostgresMissing, match=r"initdb, pg_ctl.*apt-get install postgresql"):
        postgres_bindir()


def test_the_installed_binaries_are_found():
    folder = postgres_bindir()
    assert (folder / "initdb").is_file() and (folder / "pg_ctl").is_file()
