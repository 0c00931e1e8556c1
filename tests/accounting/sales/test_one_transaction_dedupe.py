"""Events applied one after another in one transaction (as a batch is) stay exactly once.

The second check of an event under the books' lock is skipped when the lock was
already held before the first; an order's second event is answered by the sale
INSERT that clashes on (provider, order key). Both must still dedupe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, select

from app.accounting.ledger.postings import verify_chain
from app.accounting.sales.apply import apply_shop_event
from app.accounting.sales.tables import Sale, SaleLine, Split, WebhookDelivery
from app.api.webhooks.payloads import load_json, parse_stripe
from tests.shops import body_of, stripe_checkout


def _sale_event(event_id: str, order: str, amount: int):
    body = body_of(
        stripe_checkout(event_id, order, [{"sku": "BOARD-R1", "quantity": 1, "amount": amount}])
    )
    (event,) = parse_stripe(load_json(body), received_at=datetime.now(UTC))
    return event


def test_repeats_in_one_transaction_change_nothing(money_lab, engine):
    first = _sale_event("evt_t1", "cs_t1", 4_000)
    same_order = _sale_event("evt_t2", "cs_t1", 9_000)
    with Session(engine) as db:
        outcomes = [apply_shop_event(db, e) for e in (first, first, same_order, first)]
        db.commit()
    assert outcomes == ["sale_recorded", "duplicate", "duplicate_order", "duplicate"]
    with Session(engine) as db:
        sales = db.exec(select(Sale)).all()
        assert [s.gross_minor for s in sales] == [4_000]
        lines = db.exec(select(func.count()).select_from(SaleLine)).one()
        splits = db.exec(select(func.count()).select_from(Split)).one()
        assert (lines, splits) == (1, 1)
        recorded = db.exec(select(WebhookDelivery.event_id, WebhookDelivery.outcome)).all()
        assert sorted(recorded) == [("evt_t1", "sale_recorded"), ("evt_t2", "duplicate_order")]
        assert set(db.exec(select(WebhookDelivery.sale_id)).all()) == {sales[0].id}
        assert verify_chain(db).ok
