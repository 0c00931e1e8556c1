"""Ingest slots leased through the database, so replicas share the MQTT sessions fairly.

With `LABLEDGER_INGEST_SLOTS` = N, the stream is read through N persistent MQTT
sessions (client ids `<client id>-slot<i>`), each with plain subscriptions to
its own share of the topic filters (`slot_partition`: one device's filters in
one slot), and each replica holds the leases of about N / replicas of them. A lease is a
row with a holder and an expiry, renewed every `ttl / 4`; a replica also holds
a `replica:<holder>` lease saying it is alive. When a replica dies its leases
expire, a survivor takes its slots, connects with their client ids and drains
what the broker kept in their sessions. The same table works on SQLite and
PostgreSQL; expiry uses each replica's UTC clock (keep replicas in NTP sync).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col

from app.ingest.lease_table import IngestLease

log = logging.getLogger(__name__)


def slot_name(slot: int) -> str:
    """The lease name of one slot."""
    return f"slot:{slot}"


class SlotLeases:
    """Keeps this replica's fair share of slot leases and says when one is gained or lost."""

    def __init__(
        self,
        engine: Engine,
        slots: int,
        holder: str,
        ttl_s: float,
        on_gain: Callable[[int], None],
        on_lose: Callable[[int], None],
    ) -> None:
        self.engine = engine
        self.slots = slots
        self.holder = holder
        self.ttl = timedelta(seconds=ttl_s)
        self._on_gain = on_gain
        self._on_lose = on_lose
        self.held: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labledger-leases", daemon=True)

    def start(self) -> None:
        """Start renewing and balancing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Give every lease back, so survivors need not wait for expiry."""
        self._stop.set()
        self._thread.join(self.ttl.total_seconds())
        for slot in sorted(self.held):
            self._on_lose(slot)
        self.held.clear()
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    delete(IngestLease).where(col(IngestLease.holder) == self.holder)
                )
        except SQLAlchemyError:
            log.warning("could not give back ingest leases; they expire on their own")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.balance()
            except SQLAlchemyError:
                log.warning("ingest lease round failed; dropping leases that may lapse")
                self._drop_all()
            self._stop.wait(self.ttl.total_seconds() / 4)

    def _drop_all(self) -> None:
        for slot in sorted(self.held):
            self._on_lose(slot)
        self.held.clear()

    def balance(self) -> None:
        """One round: renew, learn who is alive, give back extras or take free slots."""
        now = datetime.now(UTC)
        until = now + self.ttl
        with self.engine.begin() as connection:
            self._ensure_rows(connection)
            connection.execute(
                update(IngestLease)
                .where(col(IngestLease.name) == f"replica:{self.holder}")
                .values(holder=self.holder, expires_at=until)
            )
            renewed = connection.execute(
                update(IngestLease)
                .where(
                    col(IngestLease.holder) == self.holder,
                    col(IngestLease.name).startswith("slot:"),
                )
                .values(expires_at=until)
                .returning(col(IngestLease.name))
            )
            mine = {int(name.split(":", 1)[1]) for (name,) in renewed}
            alive = {
                holder
                for (holder,) in connection.execute(
                    select(col(IngestLease.holder)).where(
                        col(IngestLease.name).startswith("replica:"),
                        col(IngestLease.expires_at) > now,
                    )
                )
            }
        for slot in self.held - mine:
            log.warning("ingest slot %s lease was lost", slot)
            self._on_lose(slot)
        self.held &= mine
        fair = math.ceil(self.slots / max(1, len(alive | {self.holder})))
        for slot in sorted(self.held, reverse=True)[: max(0, len(self.held) - fair)]:
            self._give_back(slot)
        if len(self.held) < fair:
            self._take(fair - len(self.held), now, until)

    def _ensure_rows(self, connection: Connection) -> None:
        names = [f"replica:{self.holder}", *(slot_name(s) for s in range(self.slots))]
        existing = set(
            connection.execute(
                select(col(IngestLease.name)).where(col(IngestLease.name).in_(names))
            ).scalars()
        )
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        for name in names:
            if name not in existing:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(IngestLease).values(name=name, holder=None, expires_at=epoch)
                        )
                except IntegrityError:
                    pass  # another replica made it first

    def _take(self, wanted: int, now: datetime, until: datetime) -> None:
        for slot in range(self.slots):
            if wanted == 0:
                return
            if slot in self.held:
                continue
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(IngestLease)
                    .where(
                        col(IngestLease.name) == slot_name(slot),
                        col(IngestLease.expires_at) <= now,
                    )
                    .values(holder=self.holder, expires_at=until)
                ).rowcount
            if taken == 1:
                self.held.add(slot)
                wanted -= 1
                log.info("ingest slot %s leased by %s", slot, self.holder)
                self._on_gain(slot)

    def _give_back(self, slot: int) -> None:
        self._on_lose(slot)
        self.held.discard(slot)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        with self.engine.begin() as connection:
            connection.execute(
                update(IngestLease)
                .where(
                    col(IngestLease.name) == slot_name(slot), col(IngestLease.holder) == self.holder
                )
                .values(holder=None, expires_at=epoch)
            )
        log.info("ingest slot %s given back by %s for balance", slot, self.holder)
