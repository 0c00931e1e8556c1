"""Whether the configured database can be used, and one sentence on how to fix it when not.

Every check here only reads: a wrong path or an un-migrated database is
reported, never "repaired" by creating an empty file or half a schema. Only
`migrate` (what `labledger db upgrade` and `LABLEDGER_MIGRATE_ON_START` run)
creates a SQLite file or changes a schema.

DatabaseUnusable.state   what it means
  missing                the SQLite file or its directory is not there
  no_driver              a PostgreSQL URL without its driver installed
  unreachable            the server refused, timed out, or is not found
  not_migrated           no LabLedger schema, or an older one
  too_new                the schema is newer than this LabLedger knows
"""

from __future__ import annotations

import re
from functools import lru_cache

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError

from app.db import alembic_config, get_engine, read_only_engine, sqlite_file, upgrade_database

SETTING = "LABLEDGER_DATABASE_URL"
UPGRADE = "labledger db upgrade"
VERSION_TABLE = "alembic_version"


class DatabaseUnusable(Exception):
    """The database cannot be used; `message` names the setting and the fix."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def shown_url(url: str) -> str:
    """The URL as it may be shown: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def check_location(url: str, *, must_exist: bool) -> None:
    """Refuse a SQLite path whose directory (or, with `must_exist`, file) is missing, or a
    PostgreSQL URL whose driver is not installed; touches nothing."""
    path = sqlite_file(url)
    if path is None:
        _check_driver(url)
        return
    if not path.parent.is_dir():
        raise DatabaseUnusable(
            "missing",
            f"{SETTING} points to {path}, but the directory {path.parent} does not exist: "
            f"create it (mkdir -p {path.parent}) or set {SETTING} to a path that exists",
        )
    if must_exist and not path.is_file():
        raise DatabaseUnusable(
            "missing",
            f"there is no database at {path} ({SETTING}): run `{UPGRADE}` to create it, "
            f"or set {SETTING} to the database you meant",
        )


def _check_driver(url: str) -> None:
    """A PostgreSQL URL needs psycopg, an optional extra."""
    try:
        make_url(url).get_dialect().import_dbapi()
    except ImportError as exc:
        raise DatabaseUnusable(
            "no_driver",
            f"{SETTING} is a PostgreSQL URL but its driver ({exc.name}) is not installed: "
            "pip install 'labledger[postgres]' and use a postgresql+psycopg:// URL",
        ) from None


_REASONS: tuple[tuple[str, str, str], ...] = (
    (
        r"connection refused",
        "connection refused",
        "start the database server, or fix the host and port in {setting}",
    ),
    (
        r"could not translate host name|name or service not known|"
        r"temporary failure in name resolution|nodename nor servname",
        "host name not found",
        "fix the host name in {setting}",
    ),
    (
        r"password authentication failed|no password supplied|authentication failed",
        "the server refused the user or password",
        "fix the user and password in {setting}",
    ),
    (
        r"timeout|timed out",
        "no answer (timed out)",
        "check the host, port and firewall ({setting})",
    ),
    (
        r'database "([^"]+)" does not exist',
        "the database does not exist",
        "create it (createdb {0}) or fix its name in {setting}",
    ),
    (
        r"unable to open database file|permission denied|readonly database",
        "the file cannot be opened or written",
        "check the path in {setting} and the file's permissions",
    ),
)


def explain_connection_error(url: str, exc: BaseException) -> DatabaseUnusable:
    """Turn a driver's connection error into one sentence with the reason and the fix."""
    text = str(getattr(exc, "orig", None) or exc)
    for pattern, reason, fix in _REASONS:
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            return DatabaseUnusable(
                "unreachable",
                f"cannot use the database at {shown_url(url)}: {reason}: "
                + fix.format(*match.groups(), setting=SETTING),
            )
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return DatabaseUnusable(
        "unreachable",
        f"cannot use the database at {shown_url(url)}: {first_line[:200]}: check {SETTING}",
    )


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def code_heads() -> tuple[str, ...]:
    """The newest migration revision(s) this LabLedger knows."""
    return tuple(sorted(_scripts().get_heads()))


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revision(s) the database is at (empty when it has no schema); reads only."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return ()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()  # noqa: S608
    return tuple(sorted(str(row) for row in rows))


def schema_problem(url: str, current: tuple[str, ...]) -> DatabaseUnusable | None:
    """Why a database at `current` cannot be used by this code, or None when it is at head."""
    heads = code_heads()
    if current == heads:
        return None
    known = {script.revision for script in _scripts().walk_revisions()}
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        return DatabaseUnusable(
            "too_new",
            f"the database at {shown_url(url)} is at revision {', '.join(unknown)}, which this "
            f"LabLedger does not know (its newest is {', '.join(heads)}): upgrade LabLedger, "
            f"or set {SETTING} to the database you meant",
        )
    where = f"is at revision {', '.join(current)}" if current else "has no LabLedger schema"
    return DatabaseUnusable(
        "not_migrated",
        f"the database at {shown_url(url)} {where} and needs {', '.join(heads)}: run "
        f"`{UPGRADE}` (the service does it at start-up with LABLEDGER_MIGRATE_ON_START=true)",
    )


def read_revisions(url: str) -> tuple[str, ...]:
    """The database's current revision(s), after checking that it exists and answers."""
    check_location(url, must_exist=True)
    engine = read_only_engine(url)
    try:
        with engine.connect() as connection:
            return current_revisions(connection)
    except DBAPIError as exc:
        raise explain_connection_error(url, exc) from None
    finally:
        engine.dispose()


def ensure_ready(url: str) -> Engine:
    """The engine of a database that exists, answers and is at head, or DatabaseUnusable."""
    problem = schema_problem(url, read_revisions(url))
    if problem is not None:
        raise problem
    return get_engine(url)


def migrate(url: str, revision: str = "heads") -> None:
    """Apply migrations (creating a SQLite file whose directory exists), or DatabaseUnusable."""
    check_location(url, must_exist=False)
    try:
        upgrade_database(url, revision)
    except DBAPIError as exc:
        raise explain_connection_error(url, exc) from None
    except CommandError as exc:
        if "Can't locate revision" in str(exc):
            try:
                current = read_revisions(url)
            except DatabaseUnusable:
                current = ()
            problem = schema_problem(url, current)
            if problem is not None:
                raise problem from None
        raise DatabaseUnusable("not_migrated", f"migration failed: {exc}") from None
