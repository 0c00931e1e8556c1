"""The bridge's one SQLite file: the outbox, device status, the access cache and bridge state.

WAL mode lets `labbridge status` read while the agent writes from another
process. ``synchronous=FULL``: a message written to the outbox survives a power
cut, which is the point of having an outbox on a Pi.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    published_at TEXT,
    ack TEXT
);
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at)
    WHERE published_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS device_status (
    device TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    port TEXT NOT NULL,
    port_open INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    last_event TEXT,
    last_seen_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_cache (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bridge_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

Params = Sequence[object]


def utc_now_text() -> str:
    """Now in UTC as fixed-width RFC 3339 text, so that stored times sort as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def is_disk_full(exc: BaseException) -> bool:
    """Whether SQLite refused a write because the disk (or the file's page limit) is full."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL if code is not None else "is full" in str(exc)


class DatabaseMissing(Exception):
    """`labbridge status` was asked about a file the agent has not created yet."""


class Database:
    """One connection shared by the agent's threads, serialised by a lock."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        if not create and not path.is_file():
            raise DatabaseMissing(str(path))
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        if create:
            # One transaction, so a reader never sees a file without its tables.
            self._connection.executescript(
                f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
        elif self._connection.execute("PRAGMA user_version").fetchone()[0] == 0:
            self._connection.close()
            raise DatabaseMissing(str(path))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, committed when the block ends."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk): then there is
                # nothing to roll back, and trying would hide the real error.
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise
            try:
                self._connection.execute("COMMIT")
            except BaseException:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Rows of one read."""
        with self._lock:
            return list(self._connection.execute(sql, params))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._connection.close()
