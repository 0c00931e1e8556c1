"""The on-disk queue every message to the lab broker passes through, in order, until its PUBACK.

Rows are appended with an increasing `seq` and sent in that order. A row is
marked published only once the broker acknowledged it, so a crash or a broker
outage at any point leaves it waiting, and it is sent again later with the
same payload (hence the same event id: the server counts it once). Published
rows are kept for a while (to look at) and then pruned; if the broker stays
away so long that more than `max_pending` rows wait, the oldest are dropped
with an error in the log rather than filling the Pi's disk.

A full disk (SQLITE_FULL) does not stop the bridge: what the outbox already
holds stays and is still sent; a message that cannot be stored is counted
(`not_stored`), logged as an error when the outage starts and again, with the
count, when the disk takes writes again; the total is kept in `bridge_state`
(`outbox_not_stored`) for `labbridge status`. Space comes back when the
operator frees some, or when pruning forgets published rows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from labbridge.database import Database, is_disk_full, utc_now_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message waiting for the lab broker."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """How much waits and how much was sent, for `labbridge status`."""

    waiting: int
    published: int
    oldest_waiting_at: str | None
    last_published_at: str | None


class Outbox:
    """Appends messages and hands them back in order to the publisher."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()
        self.not_stored = 0  # messages refused by a full disk since the bridge started
        self._outage_not_stored = 0  # ... during the current outage
        self._loss_lock = threading.Lock()

    def on_put(self, listener: Callable[[], None]) -> None:
        """Call `listener` (which must not block) after every append, to wake the publisher."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Append one message; its seq."""
        (seq,) = self.put_many([(topic, payload)], qos=qos, retain=retain)
        return seq

    def put_many(
        self, messages: Iterable[tuple[str, bytes]], qos: int = 1, retain: bool = False
    ) -> list[int]:
        """Append messages in one transaction; their seqs, in order."""
        created_at = utc_now_text()
        batch = list(messages)
        seqs: list[int] = []
        try:
            with self._db.transaction() as connection:
                for topic, payload in batch:
                    cursor = connection.execute(
                        "INSERT INTO outbox (topic, payload, qos, retain, created_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (topic, payload, qos, int(retain), created_at),
                    )
                    assert cursor.lastrowid is not None
                    seqs.append(cursor.lastrowid)
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):
                raise
            self._refused(len(batch))
            return []
        if self._outage_not_stored:
            self._writable_again()
        if seqs:
            with self._listeners_lock:
                listeners = list(self._listeners)
            for listener in listeners:
                listener()
        return seqs

    def _refused(self, count: int) -> None:
        """Count messages a full disk refused; the first of an outage is an error in the log."""
        with self._loss_lock:
            first = not self._outage_not_stored
            self._outage_not_stored += count
            self.not_stored += count
        if first:
            logger.error(
                "outbox: the disk is full, new messages cannot be stored (the %s already held "
                "are kept and still sent); counting what is lost until space comes back",
                self.counts().waiting,
            )

    def _writable_again(self) -> None:
        """The disk took a write again: say how much was lost, and keep the total for status."""
        with self._loss_lock:
            lost, self._outage_not_stored = self._outage_not_stored, 0
        if not lost:
            return
        logger.error(
            "outbox: the disk takes writes again; %s message(s) could not be stored while it "
            "was full",
            lost,
        )
        try:
            with self._db.transaction() as connection:
                connection.execute(
                    "INSERT INTO bridge_state (key, value) VALUES ('outbox_not_stored', ?)"
                    " ON CONFLICT (key) DO UPDATE SET"
                    " value = CAST(CAST(value AS INTEGER) + ? AS TEXT)",
                    (str(lost), lost),
                )
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):
                raise
            with self._loss_lock:  # full again at once: still counted, said later
                self._outage_not_stored += lost

    def waiting(self, after_seq: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """The oldest unpublished messages with a seq above `after_seq`."""
        rows = self._db.query(
            "SELECT seq, topic, payload, qos, retain FROM outbox"
            " WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        )
        return [
            OutboxMessage(
                row["seq"], row["topic"], bytes(row["payload"]), row["qos"], bool(row["retain"])
            )
            for row in rows
        ]

    def mark_published(self, acks: Iterable[tuple[int, str]]) -> None:
        """Record the broker's acknowledgement (its reason) of each seq."""
        published_at = utc_now_text()
        with self._db.transaction() as connection:
            connection.executemany(
                "UPDATE outbox SET published_at = ?, ack = ? WHERE seq = ?",
                [(published_at, ack, seq) for seq, ack in acks],
            )

    def counts(self) -> OutboxCounts:
        """Waiting and published totals, with the oldest waiting and newest published times."""
        (row,) = self._db.query(
            "SELECT"
            " (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS waiting,"
            " (SELECT count(*) FROM outbox WHERE published_at IS NOT NULL) AS published,"
            " (SELECT min(created_at) FROM outbox WHERE published_at IS NULL) AS oldest,"
            " (SELECT max(published_at) FROM outbox WHERE published_at IS NOT NULL) AS newest"
        )
        return OutboxCounts(row["waiting"], row["published"], row["oldest"], row["newest"])

    def prune(self, keep_published_s: float, max_pending: int) -> None:
        """Forget published rows older than `keep_published_s`; cap the waiting ones."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=keep_published_s)).isoformat(
            timespec="microseconds"
        )
        with self._db.transaction() as connection:
            connection.execute(
                "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?", (cutoff,)
            )
            (waiting,) = connection.execute(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ).fetchone()
            excess = waiting - max_pending
            if excess > 0:
                connection.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox"
                    " WHERE published_at IS NULL ORDER BY seq LIMIT ?)",
                    (excess,),
                )
        if excess > 0:
            logger.error(
                "outbox over its bound of %s waiting messages: dropped the %s oldest",
                max_pending,
                excess,
            )
