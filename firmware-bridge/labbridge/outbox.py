"""The on-disk queue every message to the lab broker passes through, in order, until its PUBACK.

Rows are appended with an increasing `seq` and sent in that order. A row is
marked published only once the broker acknowledged it, so a crash or a broker
outage at any point leaves it waiting, and it is sent again later with the
same payload (hence the same event id: the server counts it once). Published
rows are kept for a while (to look at) and then pruned; if the broker stays
away so long that more than `max_pending` rows wait, the oldest are dropped
with an error in the log rather than filling the Pi's disk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from labbridge.database import Database, utc_now_text

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
        seqs: list[int] = []
        with self._db.transaction() as connection:
            for topic, payload in messages:
                cursor = connection.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (topic, payload, qos, int(retain), created_at),
                )
                assert cursor.lastrowid is not None
                seqs.append(cursor.lastrowid)
        if seqs:
            with self._listeners_lock:
                listeners = list(self._listeners)
            for listener in listeners:
                listener()
        return seqs

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
