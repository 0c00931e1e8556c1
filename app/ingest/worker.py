"""The ingest worker: takes queued messages, decodes them, writes them in batches.

Callbacks only enqueue. The worker decodes each message once, applies a batch in
one transaction (bounded by size and time) and only then acknowledges the MQTT
messages in it, so a crash never loses an acknowledged message: the broker
redelivers the rest, and event ids make the redelivery a no-op. A batch that
fails to commit is retried with backoff, from the already-decoded events.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.ingest import metrics
from app.ingest.outage import OutageLog
from app.ingest.routing import TopicRouter
from app.lab.access.gate import ScanReply
from app.lab.activity import DecodeReject
from app.lab.recorder import BatchOutcome, prepare_batch, record_event, record_reject
from app.lab.sessions import ScanRules, close_idle_sessions, close_overlong_sessions
from devices.events import DecodeError, Ignored, Result

log = logging.getLogger(__name__)

REJECTS_KEPT = 1000


@dataclass(frozen=True)
class MqttInbound:
    """A message as the MQTT callback queued it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime
    generation: int = 0
    slot: int = 0


@dataclass(frozen=True)
class Decoded:
    """Results a stream reader (serial port) already decoded."""

    source: str
    results: Sequence[Result]
    received_at: datetime


Inbound = MqttInbound | Decoded


@dataclass
class _Item:
    source: str
    results: list[Result]
    received_at: datetime
    ack: MqttInbound | None = None


@dataclass
class WorkerConfig:
    """How big and how old a batch may get, and the lab's scan rules."""

    # Below the MQTT link's receive maximum (500 unacknowledged), so the broker keeps
    # sending while a batch is written; each batch's fixed statements (locks, reads, the
    # rollup refresh) weigh half as much per message as with 200.
    batch_max: int = 400
    batch_wait_s: float = 0.05
    sweep_every_s: float = 5.0
    refresh_every_s: float = 15.0
    interlock_every_s: float = 1.0
    rules: ScanRules = field(default_factory=ScanRules)


class IngestWorker:
    """One thread that owns decoding and database writes for ingest."""

    def __init__(
        self,
        engine: Engine,
        router: TopicRouter,
        config: WorkerConfig,
        ack: Callable[[MqttInbound], None],
        on_change: Callable[[set[int]], None],
        on_refresh: Callable[[], None],
        observe: Callable[[str, bytes, datetime], bool] | None = None,
        on_replies: Callable[[list[ScanReply]], None] | None = None,
    ) -> None:
        self.engine = engine
        self._observe = observe
        self._on_replies = on_replies
        self.router = router
        self.config = config
        self.queue: queue.Queue[Inbound] = queue.Queue()
        self._ack = ack
        self._on_change = on_change
        self._on_refresh = on_refresh
        self._stop = threading.Event()
        self._refresh = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labledger-ingest", daemon=True)
        self._last_sweep = 0.0
        self._last_refresh = 0.0
        self._outage = OutageLog(log, "ingest worker")
        self.batches_written = 0
        self.refreshes = 0

    def start(self) -> None:
        """Start the worker thread."""
        freeze_startup_heap()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._stop.set()
        self._thread.join(timeout)

    def request_refresh(self) -> None:
        """Ask for the topic map to be rebuilt (machines or readers changed)."""
        self._refresh.set()

    def _run(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()):
            try:
                self._housekeeping()
                batch = self._collect()
                if batch:
                    self._write_with_retry(batch)
            except Exception as exc:  # the worker must outlive any one failure
                if not self._outage.quiet(exc):
                    log.exception("ingest worker iteration failed")
                time.sleep(1.0)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self._refresh.is_set() or now - self._last_refresh >= self.config.refresh_every_s:
            self._refresh.clear()
            self._last_refresh = now
            try:
                with Session(self.engine) as db:
                    self.router.rebuild(db)
                self._on_refresh()
                self.refreshes += 1
                self._outage.answered()
            except Exception as exc:
                if not self._outage.quiet(exc):
                    log.exception("could not rebuild the topic map")
        if now - self._last_sweep >= self.config.sweep_every_s:
            self._last_sweep = now
            try:
                with Session(self.engine) as db:
                    moment = datetime.now(UTC)
                    closed = close_overlong_sessions(db, moment, self.config.rules)
                    closed += close_idle_sessions(db, moment, self.config.rules)
                    db.commit()
                self._outage.answered()
                if closed:
                    self._on_change(set())
            except Exception as exc:
                if not self._outage.quiet(exc):
                    log.exception("could not close idle sessions")

    def _collect(self) -> list[_Item]:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        inbound = [first]
        deadline = time.monotonic() + self.config.batch_wait_s
        while len(inbound) < self.config.batch_max:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                inbound.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        metrics.QUEUE_DEPTH.set(self.queue.qsize())
        return [self._decode(message) for message in inbound]

    def _decode(self, message: Inbound) -> _Item:
        if isinstance(message, Decoded):
            results = [
                dataclasses.replace(r, source=message.source) if isinstance(r, DecodeError) else r
                for r in message.results
            ]
            return _Item(message.source, results, message.received_at)
        try:
            if self._observes(message) and not self.router.matches(message.topic):
                return _Item(message.topic, [], message.received_at, ack=message)
            results = self.router.decode(message.topic, message.payload, message.received_at)
        except Exception as exc:  # a codec bug must not stop ingest
            log.exception("codec failed on topic %s", message.topic)
            results = [
                DecodeError(
                    message.topic, f"codec failed: {type(exc).__name__}", message.payload[:256]
                )
            ]
        return _Item(message.topic, results, message.received_at, ack=message)

    def _observes(self, message: MqttInbound) -> bool:
        """Let the interlock see relay states; whether the topic is a relay's."""
        if self._observe is None:
            return False
        return self._observe(message.topic, message.payload, message.received_at)

    def _write_with_retry(self, batch: list[_Item]) -> None:
        """Write a batch and acknowledge it; nothing leaves here unwritten and unacknowledged.

        While the database is away the batch is retried with backoff. A batch that
        fails for another reason is applied message by message, so one poison
        message becomes a kept reject and the rest are applied. Any failure on
        the way (the database going away mid-isolation, say) retries the whole
        batch: event ids make a repeat a no-op. Only a stop while the database
        is away leaves messages unacknowledged, for the broker to redeliver.
        """
        for item in batch:
            for result in item.results:
                if isinstance(result, Ignored):
                    metrics.IGNORED.labels(_source_label(item.source), result.reason[:40]).inc()
        delay = 0.2
        one_by_one = False
        while True:
            try:
                outcome = self._write_one_by_one(batch) if one_by_one else self._write(batch)
                self._outage.answered()
                break
            except OperationalError as exc:
                self._outage.quiet(exc)
                log.debug(
                    "database unavailable; retrying a batch of %s in %.1fs", len(batch), delay
                )
            except Exception:
                if not one_by_one:
                    log.exception(
                        "a batch of %s failed; applying it message by message", len(batch)
                    )
                    one_by_one = True
                    continue
                log.exception(
                    "a batch of %s failed one by one; retrying in %.1fs", len(batch), delay
                )
            metrics.BATCH_RETRIES.inc()
            if self._stop.is_set() and delay >= 5:
                return  # shutting down: unacknowledged messages are redelivered later
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        for item in batch:
            if item.ack is not None:
                self._ack(item.ack)
        self.batches_written += 1
        metrics.EVENTS_APPLIED.inc(outcome.applied)
        metrics.DUPLICATES.inc(outcome.duplicates)
        if outcome.unroutable:
            metrics.REJECTS.labels("unroutable").inc(outcome.unroutable)
        if outcome.applied:
            self._on_change(outcome.machines)
        if outcome.replies and self._on_replies is not None:
            self._on_replies(outcome.replies)

    def _write_one_by_one(self, batch: list[_Item]) -> BatchOutcome:
        """Isolate the message that cannot be applied; it is kept as a reject, not lost."""
        total = BatchOutcome()
        for item in batch:
            try:
                outcome = self._write([item])
            except OperationalError:
                raise
            except Exception as exc:
                log.exception("message from %s could not be applied", item.source)
                failed = _Item(
                    item.source,
                    [DecodeError(item.source, f"could not apply: {type(exc).__name__}", b"")],
                    item.received_at,
                )
                outcome = self._write([failed])
            total.applied += outcome.applied
            total.duplicates += outcome.duplicates
            total.unroutable += outcome.unroutable
            total.machines |= outcome.machines
            total.replies += outcome.replies
        return total

    def _write(self, batch: list[_Item]) -> BatchOutcome:
        started = time.perf_counter()
        if not any(not isinstance(r, Ignored) for item in batch for r in item.results):
            return BatchOutcome()  # only documented ignores: counted, nothing to write
        with Session(self.engine) as db:
            events = [
                (r, item.source)
                for item in batch
                for r in item.results
                if not isinstance(r, DecodeError | Ignored)
            ]
            outcome = prepare_batch(db, events, self.config.rules) if events else BatchOutcome()
            rejected = False
            for item in batch:
                for result in item.results:
                    if isinstance(result, Ignored):
                        continue
                    if isinstance(result, DecodeError):
                        record_reject(db, result, item.received_at)
                        metrics.REJECTS.labels(_source_label(result.source)).inc()
                        rejected = True
                    else:
                        record_event(db, result, item.source, self.config.rules, outcome)
            if rejected:
                _prune_rejects(db)
            db.commit()
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return outcome


_frozen = threading.Lock()
_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move what the process holds before ingest starts out of the garbage collector's reach.

    The application, its tables and compiled statements live as long as the process, yet
    every full collection walked them all again: with a batch's many short-lived rows
    that was about a sixth of the batch path. Done once per process. No collection comes
    first (it would walk the whole heap at every start): what start-up left as cyclic
    garbage stays, once, and is bounded by start-up.
    """
    global _heap_frozen
    with _frozen:
        if _heap_frozen:
            return
        gc.freeze()
        _heap_frozen = True


def _source_label(source: str) -> str:
    """A low-cardinality label: the first topic level (or the port)."""
    return source.split("/", 1)[0][:40] or "unknown"


def _prune_rejects(db: Session) -> None:
    """Keep only the newest rejects."""
    newest = db.exec(select(func.max(DecodeReject.id))).one()[0]  # type: ignore[call-overload]
    if newest is not None and newest > REJECTS_KEPT:
        db.exec(delete(DecodeReject).where(DecodeReject.id <= newest - REJECTS_KEPT))
