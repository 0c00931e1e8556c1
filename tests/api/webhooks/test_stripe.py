"""Stripe events normalised into ShopEvents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.api.webhooks.errors import PayloadInvalid
from app.api.webhooks.payloads import load_json, parse_stripe

ASSETS = Path(__file__).parents[2] / "assets" / "webhooks"
RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def event(kind: str, obj: dict, **extra) -> dict:
    """A Stripe event envelope around `obj`."""
    return {
        "id": "evt_1",
        "object": "event",
        "type": kind,
        "created": 1_700_000_000,
        "livemode": True,
        "data": {"object": obj, **extra},
    }


def session(**fields) -> dict:
    """A paid checkout session."""
    return {
        "id": "cs_1",
        "object": "checkout.session",
        "amount_total": 5500,
        "currency": "usd",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        **fields,
    }


def test_vector_checkout_session_is_one_unallocated_sale():
    body = (ASSETS / "stripe_checkout_session_completed.json").read_bytes()
    (sale,) = parse_stripe(load_json(body), received_at=RECEIVED)
    assert sale.kind == "sale"
    assert sale.event_id == "evt_test_1"
    assert (sale.currency, sale.amount_minor) == ("USD", 2500)
    assert sale.order_key == "cs_test_1"  # no payment_intent in the vector
    assert sale.occurred_at == RECEIVED  # no `created` in the vector
    assert len(sale.lines) == 1
    assert sale.lines[0].sku is None
    assert sale.lines[0].gross_minor == 2500
    assert sale.fees_minor is None


def test_metadata_lines_are_allocated_and_the_rest_kept_unallocated():
    lines = [{"sku": "BOARD-R1", "quantity": 2, "amount": 5000}]
    meta = {"lines": json.dumps(lines), "fees": "190"}
    (sale,) = parse_stripe(event("checkout.session.completed", session(metadata=meta)))
    assert sale.order_key == "pi_1"
    assert sale.occurred_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert [(li.sku, li.quantity, li.gross_minor) for li in sale.lines] == [
        ("BOARD-R1", 2, 5000),
        (None, 1, 500),
    ]
    assert sum(li.gross_minor for li in sale.lines) == sale.amount_minor == 5500
    assert sale.fees_minor == 190
    assert sale.test is False


def test_unreadable_metadata_lines_keep_the_sale_unallocated_with_the_reason():
    meta = {"lines": "[{not json"}
    (sale,) = parse_stripe(event("checkout.session.completed", session(metadata=meta)))
    assert [(li.sku, li.gross_minor) for li in sale.lines] == [(None, 5500)]
    assert "metadata.lines" in sale.lines[0].description


def test_zero_decimal_currency_is_not_multiplied():
    (sale,) = parse_stripe(
        event("checkout.session.completed", session(currency="jpy", amount_total=2500))
    )
    assert (sale.currency, sale.amount_minor) == ("JPY", 2500)


def test_isk_counts_hundredths_in_stripe_and_whole_kronur_in_the_ledger():
    (sale,) = parse_stripe(
        event("checkout.session.completed", session(currency="isk", amount_total=50000))
    )
    assert (sale.currency, sale.amount_minor) == ("ISK", 500)
    with pytest.raises(PayloadInvalid, match="amount_total"):
        parse_stripe(
            event("checkout.session.completed", session(currency="isk", amount_total=50050))
        )


def test_unpaid_session_and_unknown_types_are_ignored():
    (unpaid,) = parse_stripe(event("checkout.session.completed", session(payment_status="unpaid")))
    assert unpaid.kind == "ignored"
    (other,) = parse_stripe(event("customer.created", {"id": "cus_1"}))
    assert (other.kind, other.reference, other.amount_minor) == ("ignored", "customer.created", 0)


def test_async_payment_succeeded_is_the_same_sale():
    (sale,) = parse_stripe(event("checkout.session.async_payment_succeeded", session()))
    assert (sale.kind, sale.order_key) == ("sale", "pi_1")


def charge(**fields) -> dict:
    """A refunded charge of the session's payment intent."""
    return {
        "id": "ch_1",
        "object": "charge",
        "amount": 5500,
        "amount_refunded": 2000,
        "currency": "usd",
        "payment_intent": "pi_1",
        **fields,
    }


def test_charge_refunded_links_to_the_sale_by_payment_intent():
    (refund,) = parse_stripe(event("charge.refunded", charge()))
    (sale,) = parse_stripe(event("checkout.session.completed", session()))
    assert refund.kind == "refund"
    assert refund.order_key == sale.order_key == "pi_1"
    assert refund.amount_minor == refund.refund_minor == 2000
    assert refund.reference == "ch_1"


def test_second_partial_refund_counts_only_what_it_added():
    data = event("charge.refunded", charge(amount_refunded=3000))
    data["data"]["previous_attributes"] = {"amount_refunded": 2000}
    (refund,) = parse_stripe(data)
    assert refund.amount_minor == 1000


def test_charge_without_payment_intent_uses_metadata_order():
    (refund,) = parse_stripe(
        event("charge.refunded", charge(payment_intent=None, metadata={"order": "A-7"}))
    )
    assert refund.order_key == "A-7"


def dispute(**fields) -> dict:
    """A dispute on the charge."""
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": 5500,
        "currency": "usd",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "status": "needs_response",
        **fields,
    }


def test_dispute_created_is_a_hold():
    (hold,) = parse_stripe(event("charge.dispute.created", dispute()))
    assert (hold.kind, hold.order_key, hold.amount_minor) == ("hold", "pi_1", 5500)


@pytest.mark.parametrize("status", ["won", "warning_closed"])
def test_dispute_closed_in_our_favour_is_a_release(status):
    (release,) = parse_stripe(event("charge.dispute.closed", dispute(status=status)))
    assert (release.kind, release.amount_minor, release.event_id) == ("release", 5500, "evt_1")


def test_lost_dispute_releases_the_hold_and_refunds_the_amount():
    release, refund = parse_stripe(event("charge.dispute.closed", dispute(status="lost")))
    assert (release.kind, refund.kind) == ("release", "refund")
    assert release.amount_minor == refund.amount_minor == 5500
    assert release.event_id != refund.event_id
    assert release.order_key == refund.order_key == "pi_1"


def test_dispute_closed_with_an_unknown_status_is_refused():
    with pytest.raises(PayloadInvalid, match=r"data\.object\.status"):
        parse_stripe(event("charge.dispute.closed", dispute(status="under_review")))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "event"),
        ({"type": "charge.refunded"}, "id"),
        (event("checkout.session.completed", session(amount_total="55.00")), "amount_total"),
        (event("checkout.session.completed", session(amount_total=-1)), "amount_total"),
        (event("checkout.session.completed", session(currency="zz")), "currency"),
        (event("checkout.session.completed", session(amount_total=None)), "amount_total"),
        (event("charge.refunded", charge(amount_refunded=True)), "amount_refunded"),
        ({**event("charge.refunded", charge()), "data": []}, "data"),
        ({**event("charge.refunded", charge()), "created": "yesterday"}, "created"),
    ],
)
def test_malformed_events_name_the_field(payload, field):
    with pytest.raises(PayloadInvalid) as caught:
        parse_stripe(payload, received_at=RECEIVED)
    assert field in caught.value.message
    assert caught.value.status == 400


def test_test_mode_events_are_marked():
    data = event("checkout.session.completed", session())
    data["livemode"] = False
    (sale,) = parse_stripe(data)
    assert sale.test is True
