"""The shops' webhook endpoints: verify the raw body, normalise, apply once, answer fast.

Only reading the body runs on the event loop; verifying, parsing and the
database work run in the thread pool (one session per delivery), so a burst
of sales never stalls other requests.

A bad or missing signature is refused with a JSON error and leaves nothing but
a rejected-delivery entry (no payload, no secret). A duplicate delivery answers
200 and changes nothing: the provider's event id is recorded under a unique
constraint in the same transaction as the work, so concurrent deliveries of
one event make exactly one sale.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select

from app.accounting.sales.apply import already_recorded, apply_shop_event
from app.accounting.sales.events import ShopEvent
from app.accounting.sales.tables import RejectedDelivery
from app.api.errors import error_body
from app.api.webhooks._read import fits_columns
from app.api.webhooks.errors import SignatureMissing
from app.api.webhooks.payloads import (
    load_json,
    parse_generic,
    parse_shopify,
    parse_stripe,
    parse_woocommerce,
)
from app.api.webhooks.signatures import (
    GENERIC_HEADER,
    is_woocommerce_ping,
    verify_generic,
    verify_shopify,
    verify_stripe,
    verify_woocommerce,
)
from app.errors import LabLedgerError
from app.metrics import WEBHOOK_REJECTS

log = logging.getLogger(__name__)
# Every refusal is also counted in labledger_webhook_rejects_total, which no pruning loses.
REJECTED_DELIVERIES_KEPT = 10_000
router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _secrets(values: list[SecretStr], provider: str) -> list[str]:
    if not values:
        variable = f"LABLEDGER_{provider.upper()}_WEBHOOK_SECRETS"
        raise SignatureMissing(f"no webhook secret is configured for {provider}: set {variable}")
    return [value.get_secret_value() for value in values]


def _prune_rejected(db: Session) -> None:
    """Keep only the newest rejected deliveries, so unsigned POSTs cannot fill the disk."""
    newest = db.exec(select(func.max(RejectedDelivery.id))).one()
    if newest is not None and newest > REJECTED_DELIVERIES_KEPT:
        db.exec(
            delete(RejectedDelivery).where(
                col(RejectedDelivery.id) <= newest - REJECTED_DELIVERIES_KEPT
            )
        )


def _reject(db: Session, provider: str, body: bytes, error: LabLedgerError) -> JSONResponse:
    db.rollback()
    WEBHOOK_REJECTS.labels(provider, error.code[:64]).inc()
    db.add(
        RejectedDelivery(
            provider=provider,
            code=error.code[:64],
            message=error.message[:500],
            body_sha256=hashlib.sha256(body).hexdigest(),
            body_size=len(body),
        )
    )
    db.flush()
    _prune_rejected(db)
    db.commit()
    log.warning("webhook from %s refused: %s", provider, error.code)
    status = getattr(error, "status", 400)
    return JSONResponse(error_body(error.code, error.message, error.details), status_code=status)


def _apply(db: Session, provider: str, body: bytes, events: tuple[ShopEvent, ...]) -> JSONResponse:
    """Apply every event of one delivery in one transaction; a lost race is a duplicate.

    Applying holds the books' lock, so races are rare; one that still ends on a
    unique key (the event id, or the order key of a sale delivered under two
    event ids) is retried once, and the retry sees what the winner recorded.
    An amount or event the ledger refuses is a recorded rejection, like a bad payload.
    """
    for attempt in (1, 2):
        try:
            outcomes = [apply_shop_event(db, event) for event in events]
            db.commit()
        except IntegrityError:
            db.rollback()
            if all(already_recorded(db, e.provider, e.event_id) for e in events):
                outcomes = ["duplicate"] * len(events)
            elif attempt == 1:
                continue
            else:
                raise
        except LabLedgerError as error:
            return _reject(db, provider, body, error)
        return JSONResponse({"received": len(events), "outcomes": outcomes})
    raise AssertionError("unreachable")  # pragma: no cover


#: SQLite takes one writer at a time, and a transaction that read before it
#: wrote fails at once ("database is locked") when another wrote in between;
#: so within one process, deliveries to SQLite are applied one batch at a time.
_SQLITE_WRITER = threading.Lock()
#: The most deliveries applied in one transaction (bounds the wait of the first of them).
BATCH_MOST = 16


def _one_writer(engine: Engine) -> AbstractContextManager[object]:
    """The SQLite writer lock, or nothing for databases that take concurrent writers."""
    return _SQLITE_WRITER if engine.dialect.name == "sqlite" else nullcontext()


@dataclass(eq=False)
class _Delivery:
    """A verified, parsed delivery waiting for its turn, and then its answer."""

    provider: str
    body: bytes
    events: tuple[ShopEvent, ...]
    done: bool = False
    answer: JSONResponse | None = None
    error: BaseException | None = None


class _Combiner:
    """Applies the deliveries that wait for the database together: one transaction, one commit.

    Every delivery queues itself and then waits for the writer's turn; the thread that
    gets the turn takes what is queued (up to BATCH_MOST, in arrival order) and applies
    it in one transaction under one books' lock, answering each delivery. Committing,
    taking the lock and reading the chain head once per batch instead of once per sale
    is what lets a burst of sales through; a single sale still goes alone. When
    anything in a batch fails, the batch is rolled back and each of its deliveries is
    applied on its own, so one bad delivery answers for itself only.
    """

    def __init__(self, turn: threading.Lock) -> None:
        """Take turns on `turn` (the SQLite writer lock, or one of this engine's own)."""
        self._turn = turn
        self._queue_lock = threading.Lock()
        self._queue: list[_Delivery] = []

    def apply(self, engine: Engine, delivery: _Delivery) -> JSONResponse:
        """Queue the delivery, apply batches until it is done, and give its answer."""
        with self._queue_lock:
            self._queue.append(delivery)
        while not delivery.done:
            with self._turn:
                if delivery.done:
                    break
                with self._queue_lock:
                    batch, self._queue = self._queue[:BATCH_MOST], self._queue[BATCH_MOST:]
                try:
                    _apply_batch(engine, batch)
                except BaseException as exc:  # no delivery of the batch may wait forever
                    for waiting in batch:
                        if not waiting.done:
                            waiting.error, waiting.done = exc, True
        if delivery.error is not None:
            raise delivery.error
        assert delivery.answer is not None
        return delivery.answer


def _apply_batch(engine: Engine, batch: list[_Delivery]) -> None:
    """Apply a batch in one transaction, or each of it on its own if that fails."""
    if len(batch) > 1:
        with Session(engine, expire_on_commit=False) as db:
            try:
                outcomes = [[apply_shop_event(db, e) for e in d.events] for d in batch]
                db.commit()
            except Exception:  # each delivery is retried alone just below
                db.rollback()
            else:
                for delivery, done in zip(batch, outcomes, strict=True):
                    delivery.answer = JSONResponse({"received": len(done), "outcomes": done})
                    delivery.done = True
                return
    for delivery in batch:
        try:
            with Session(engine, expire_on_commit=False) as db:
                delivery.answer = _apply(db, delivery.provider, delivery.body, delivery.events)
        except BaseException as exc:  # handed to the delivery's own thread, which raises it
            delivery.error = exc
        delivery.done = True


_combiners: weakref.WeakKeyDictionary[Engine, _Combiner] = weakref.WeakKeyDictionary()
_combiners_lock = threading.Lock()


def _combiner(engine: Engine) -> _Combiner:
    """The engine's combiner (all SQLite engines of the process share the writer lock)."""
    with _combiners_lock:
        found = _combiners.get(engine)
        if found is None:
            turn = _SQLITE_WRITER if engine.dialect.name == "sqlite" else threading.Lock()
            found = _combiners[engine] = _Combiner(turn)
        return found


def _process(
    engine: Engine,
    provider: str,
    body: bytes,
    verify: Callable[[bytes], None],
    parse: Callable[[bytes], tuple[ShopEvent, ...]],
) -> JSONResponse:
    """Verify, parse and apply one delivery: blocking work, run in a worker thread."""
    try:
        verify(body)
        events = fits_columns(parse(body))
    except LabLedgerError as error:
        with _one_writer(engine), Session(engine, expire_on_commit=False) as db:
            return _reject(db, provider, body, error)
    return _combiner(engine).apply(engine, _Delivery(provider, body, events))


async def _handle(
    request: Request,
    provider: str,
    verify: Callable[[bytes], None],
    parse: Callable[[bytes], tuple[ShopEvent, ...]],
    body: bytes | None = None,
) -> JSONResponse:
    """Read the body on the event loop, then do everything else in the thread pool."""
    if body is None:
        body = await request.body()
    engine: Engine = request.app.state.engine
    return await run_in_threadpool(_process, engine, provider, body, verify, parse)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/stripe")
async def stripe_webhook(request: Request) -> JSONResponse:
    """Stripe: checkout.session.completed, charge.refunded, charge.dispute.created/closed."""
    settings = request.app.state.settings

    def verify(body: bytes) -> None:
        secrets = _secrets(settings.stripe_webhook_secrets, "stripe")
        verify_stripe(body, request.headers.get("Stripe-Signature"), secrets, now=int(time.time()))

    return await _handle(
        request,
        "stripe",
        verify,
        lambda body: parse_stripe(load_json(body), received_at=_now()),
    )


@router.post("/shopify")
async def shopify_webhook(request: Request) -> JSONResponse:
    """Shopify: orders/paid (and orders/create when paid), refunds/create."""
    settings = request.app.state.settings
    headers = request.headers

    def verify(body: bytes) -> None:
        verify_shopify(
            body,
            headers.get("X-Shopify-Hmac-Sha256"),
            _secrets(settings.shopify_webhook_secrets, "shopify"),
        )

    return await _handle(
        request,
        "shopify",
        verify,
        lambda body: parse_shopify(
            headers.get("X-Shopify-Topic", ""),
            load_json(body),
            received_at=_now(),
        ),
    )


@router.post("/woocommerce")
async def woocommerce_webhook(request: Request) -> JSONResponse:
    """WooCommerce: orders reaching processing/completed, refunds; answers the creation ping."""
    settings = request.app.state.settings
    headers = request.headers
    body = await request.body()
    if "X-WC-Webhook-Signature" not in headers and is_woocommerce_ping(body):
        return JSONResponse({"received": 0, "outcomes": ["ping"]})

    def verify(raw: bytes) -> None:
        secrets = _secrets(settings.woocommerce_webhook_secrets, "woocommerce")
        verify_woocommerce(raw, headers.get("X-WC-Webhook-Signature"), secrets)

    return await _handle(
        request,
        "woocommerce",
        verify,
        lambda raw: parse_woocommerce(
            headers.get("X-WC-Webhook-Topic", ""), load_json(raw), dict(headers), received_at=_now()
        ),
        body,
    )


@router.post("/generic")
async def generic_webhook(request: Request) -> JSONResponse:
    """Any other shop: LabLedger's own JSON format, HMAC-SHA256 signed (see docs/webhooks.md)."""
    settings = request.app.state.settings

    def verify(body: bytes) -> None:
        secrets = _secrets(settings.generic_webhook_secrets, "generic")
        verify_generic(body, request.headers.get(GENERIC_HEADER), secrets, now=int(time.time()))

    return await _handle(
        request,
        "generic",
        verify,
        lambda body: parse_generic(load_json(body), received_at=_now()),
    )
