"""The ShopEvent shape refuses events the ledger could not post."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.accounting.sales.events import (
    RefundLine,
    SaleLine,
    ShopEvent,
    event_from_json,
    event_to_json,
)

AT = datetime(2024, 5, 1, tzinfo=UTC)


def sale(**fields):
    """A valid sale with `fields` overridden."""
    values = {
        "provider": "generic",
        "event_id": "e1",
        "kind": "sale",
        "order_key": "o1",
        "occurred_at": AT,
        "currency": "USD",
        "amount_minor": 2500,
        "lines": (SaleLine("BOARD-R1", 1, 2500),),
    }
    return ShopEvent(**{**values, **fields})


def test_a_valid_sale_is_kept_in_utc():
    event = sale(occurred_at=datetime(2024, 5, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))))
    assert event.occurred_at == AT
    assert event.occurred_at.tzinfo == UTC
    assert event.refund_minor == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"amount_minor": 2400},
        {"lines": ()},
        {"occurred_at": datetime(2024, 5, 1)},
        {"currency": "usd"},
        {"order_key": ""},
        {"kind": "payout"},
        {"fees_minor": -1},
        {"kind": "refund", "amount_minor": 0, "lines": ()},
        {"kind": "ignored"},
    ],
)
def test_inconsistent_events_are_refused(fields):
    with pytest.raises(ValueError):
        sale(**fields)


def test_refund_minor_is_the_amount_of_a_refund():
    refund = sale(kind="refund", lines=(), amount_minor=700)
    assert refund.refund_minor == 700


@pytest.mark.parametrize(
    "event",
    [
        sale(lines=(SaleLine("BOARD-R1", 2, 2000, "two boards"), SaleLine(None, 1, 500))),
        sale(fees_minor=75, reference="order #1 \u00e9", test=True),
        ShopEvent(
            provider="stripe",
            event_id="r1",
            kind="refund",
            order_key="o1",
            occurred_at=AT,
            currency="EUR",
            amount_minor=300,
            refund_lines=(RefundLine("BOARD-R1", 1, 300, "li_1"), RefundLine(None, 0, 0)),
        ),
    ],
)
def test_an_event_is_stored_as_the_dataclass_document_and_read_back_equal(event):
    document = dataclasses.asdict(event)
    document["occurred_at"] = event.occurred_at.isoformat()
    assert event_to_json(event) == json.dumps(document, sort_keys=True)
    assert event_from_json(event_to_json(event)) == event
