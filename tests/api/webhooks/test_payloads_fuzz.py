"""Parsers raise nothing but PayloadInvalid, whatever JSON they are given."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from app.accounting.sales.events import ShopEvent
from app.api.webhooks.errors import PayloadInvalid
from app.api.webhooks.payloads import (
    parse_generic,
    parse_shopify,
    parse_stripe,
    parse_woocommerce,
)

RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | st.decimals()
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "25.00", "1e999", "usd", "ISK", "paid", "lost", "refund"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

STRIPE_BODIES = [
    {
        "id": "evt_1",
        "type": "checkout.session.completed",
        "created": 1_700_000_000,
        "data": {
            "object": {
                "id": "cs_1",
                "amount_total": 5500,
                "currency": "usd",
                "payment_status": "paid",
                "payment_intent": "pi_1",
                "metadata": {
                    "lines": json.dumps([{"sku": "B", "quantity": 2, "amount": 5000}]),
                    "fees": "12",
                },
            }
        },
    },
    {
        "id": "evt_2",
        "type": "charge.refunded",
        "created": 1_700_000_000,
        "data": {
            "object": {
                "id": "ch_1",
                "amount_refunded": 300,
                "currency": "isk",
                "payment_intent": "pi",
            },
            "previous_attributes": {"amount_refunded": 100},
        },
    },
    {
        "id": "evt_3",
        "type": "charge.dispute.closed",
        "created": 1_700_000_000,
        "data": {"object": {"id": "dp_1", "amount": 5, "currency": "kwd", "status": "lost"}},
    },
]
SHOPIFY_BODIES = [
    (
        "orders/create",
        {
            "id": 1,
            "currency": "USD",
            "financial_status": "paid",
            "processed_at": "2024-01-01T00:00:00+01:00",
            "total_price": "10.00",
            "total_price_set": {"shop_money": {"amount": "10.00", "currency_code": "USD"}},
            "taxes_included": True,
            "line_items": [
                {
                    "sku": "B",
                    "quantity": 1,
                    "price": "9.00",
                    "discount_allocations": [{"amount": "1.00"}],
                    "tax_lines": [{"price": "0.50"}],
                }
            ],
        },
    ),
    (
        "refunds/create",
        {
            "id": 2,
            "order_id": 1,
            "created_at": "2024-01-01T00:00:00Z",
            "transactions": [{"kind": "refund", "amount": "1.00", "currency": "USD"}],
            "refund_line_items": [{"quantity": 1, "subtotal": "1.00", "line_item": {"sku": "B"}}],
        },
    ),
]
WOO_BODY = {
    "id": 7,
    "status": "completed",
    "currency": "JPY",
    "total": "1000",
    "date_paid_gmt": "2024-01-01T00:00:00",
    "date_modified_gmt": "2024-01-02T00:00:00",
    "line_items": [{"sku": "B", "quantity": 1, "total": "900"}],
    "fee_lines": [{"name": "x", "total": "100"}],
    "refunds": [{"id": 8, "total": "-100"}],
    "meta_data": [{"key": "_stripe_fee", "value": "30"}],
}
GENERIC_BODIES = [
    {
        "id": "g1",
        "type": "sale",
        "order": "o",
        "occurred_at": "2024-01-01T00:00:00Z",
        "currency": "EUR",
        "lines": [{"sku": "B", "quantity": 1, "amount_minor": 100}],
        "amount_minor": 150,
        "fees_minor": 3,
    },
    {
        "id": "g2",
        "type": "refund",
        "order": "o",
        "occurred_at": "2024-01-01T00:00:00Z",
        "currency": "EUR",
        "amount_minor": 5,
        "lines": [{"sku": "B", "quantity": 1, "amount_minor": 5, "line": "l1"}],
    },
]


def paths(value, prefix=()):
    """Every path to a member of nested dicts and lists."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw, body):
    """`body` with one member replaced by arbitrary JSON, or removed."""
    body = copy.deepcopy(body)
    path = draw(st.sampled_from(paths(body)))
    replacement = draw(json_values)
    if not path:
        return replacement
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return body


def outcome(call):
    """Run a parser: its events, or PayloadInvalid; anything else fails the test."""
    try:
        events = call()
    except PayloadInvalid as exc:
        assert exc.status == 400
        assert ":" in exc.message
        return None
    assert isinstance(events, tuple)
    assert events
    assert all(isinstance(event, ShopEvent) for event in events)
    for event in events:
        if event.kind == "sale":
            assert sum(line.gross_minor for line in event.lines) == event.amount_minor
    return events


def test_the_fuzz_seeds_parse():
    for body in STRIPE_BODIES:
        assert outcome(lambda b=body: parse_stripe(b))[0].kind != "ignored"
    for topic, body in SHOPIFY_BODIES:
        assert outcome(lambda t=topic, b=body: parse_shopify(t, b))[0].kind != "ignored"
    assert len(outcome(lambda: parse_woocommerce("order.updated", WOO_BODY))) == 2
    for body in GENERIC_BODIES:
        assert outcome(lambda b=body: parse_generic(b))[0].kind != "ignored"


@given(
    value=json_values,
    topic=st.text(max_size=20) | st.sampled_from(["orders/paid", "order.updated"]),
)
def test_arbitrary_json_raises_only_payload_invalid(value, topic):
    outcome(lambda: parse_stripe(value))
    outcome(lambda: parse_stripe(value, received_at=RECEIVED))
    outcome(lambda: parse_shopify(topic, value, received_at=RECEIVED))
    outcome(lambda: parse_woocommerce(topic, value, received_at=RECEIVED))
    outcome(lambda: parse_generic(value))


@settings(max_examples=300)
@given(data=st.data())
def test_mutated_real_payloads_raise_only_payload_invalid(data):
    body = data.draw(mutated(data.draw(st.sampled_from(STRIPE_BODIES))))
    outcome(lambda: parse_stripe(body))
    topic, shopify = data.draw(st.sampled_from(SHOPIFY_BODIES))
    body = data.draw(mutated(shopify))
    outcome(lambda: parse_shopify(topic, body, received_at=RECEIVED))
    body = data.draw(mutated(WOO_BODY))
    outcome(lambda: parse_woocommerce("order.updated", body))
    body = data.draw(mutated(data.draw(st.sampled_from(GENERIC_BODIES))))
    outcome(lambda: parse_generic(body, received_at=RECEIVED))
