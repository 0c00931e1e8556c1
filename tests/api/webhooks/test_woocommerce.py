"""WooCommerce order webhooks normalised into ShopEvents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.api.webhooks.errors import PayloadInvalid
from app.api.webhooks.payloads import load_json, parse_woocommerce

ASSETS = Path(__file__).parents[2] / "assets" / "webhooks"
RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def order(**fields) -> dict:
    """A paid WooCommerce order with a fee line, shipping and tax."""
    return {
        "id": 4750,
        "number": "4750",
        "status": "processing",
        "currency": "EUR",
        "date_created_gmt": "2024-04-30T09:00:00",
        "date_paid_gmt": "2024-04-30T09:05:00",
        "date_modified_gmt": "2024-04-30T09:05:00",
        "total": "36.90",
        "line_items": [
            {"id": 1, "sku": "BOARD-R1", "name": "Board", "quantity": 1, "total": "25.00"}
        ],
        "fee_lines": [{"id": 9, "name": "Rush handling", "total": "3.00"}],
        "meta_data": [{"id": 1, "key": "_stripe_fee", "value": "1.02"}],
        **fields,
    }


def test_vector_order_is_a_sale():
    body = (ASSETS / "woocommerce_order.json").read_bytes()
    (sale,) = parse_woocommerce("order.created", load_json(body), received_at=RECEIVED)
    assert (sale.kind, sale.event_id, sale.order_key) == ("sale", "4750:sale", "4750")
    assert (sale.currency, sale.amount_minor) == ("EUR", 2500)
    assert [(li.sku, li.quantity, li.gross_minor) for li in sale.lines] == [("BOARD-R1", 1, 2500)]
    assert sale.occurred_at == RECEIVED


def test_fee_lines_are_unallocated_revenue_and_processor_fee_comes_from_meta():
    (sale,) = parse_woocommerce("order.updated", order())
    assert [(li.sku, li.gross_minor) for li in sale.lines] == [
        ("BOARD-R1", 2500),
        (None, 300),
        (None, 890),
    ]
    assert "Rush handling" in sale.lines[1].description
    assert sale.fees_minor == 102
    assert sale.occurred_at == datetime(2024, 4, 30, 9, 5, tzinfo=UTC)


def test_fee_in_another_balance_currency_is_not_taken():
    meta = [{"key": "_stripe_fee", "value": "1.10"}, {"key": "_stripe_currency", "value": "USD"}]
    (sale,) = parse_woocommerce("order.updated", order(meta_data=meta))
    assert sale.fees_minor is None


def test_processing_then_completed_is_one_sale_event_id():
    (first,) = parse_woocommerce("order.updated", order())
    (second,) = parse_woocommerce(
        "order.updated", order(status="completed", date_modified_gmt="2024-05-03T10:00:00")
    )
    assert first.event_id == second.event_id == "4750:sale"


def test_each_refund_is_its_own_event_however_often_it_is_repeated():
    first = parse_woocommerce("order.updated", order(refunds=[{"id": 4751, "total": "-5.00"}]))
    again = parse_woocommerce(
        "order.updated",
        order(
            status="refunded",
            refunds=[{"id": 4752, "total": "-31.90"}, {"id": 4751, "total": "-5.00"}],
        ),
    )
    refunds_first = {e.event_id: e.amount_minor for e in first if e.kind == "refund"}
    refunds_again = {e.event_id: e.amount_minor for e in again if e.kind == "refund"}
    assert refunds_first == {"4750:refund:4751": 500}
    assert refunds_again == {"4750:refund:4751": 500, "4750:refund:4752": 3190}
    assert all(e.order_key == "4750" for e in again)
    assert [e.kind for e in again].count("sale") == 1


def test_unpaid_statuses_and_other_topics_are_ignored():
    (pending,) = parse_woocommerce("order.updated", order(status="pending"))
    assert pending.kind == "ignored"
    (deleted,) = parse_woocommerce("order.deleted", {"id": 4750})
    assert deleted.kind == "ignored"
    (product,) = parse_woocommerce("product.updated", {"id": 3}, received_at=RECEIVED)
    assert product.kind == "ignored"


def test_topic_may_come_from_the_headers():
    (sale,) = parse_woocommerce(None, order(), {"X-WC-Webhook-Topic": "order.updated"})
    assert sale.kind == "sale"
    with pytest.raises(PayloadInvalid, match="X-WC-Webhook-Topic"):
        parse_woocommerce(None, order(), {})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (order(total="36.9O"), "total"),
        (order(currency="EURO"), "currency"),
        (order(refunds=[{"total": "-5.00"}]), "refunds[0].id"),
        (order(line_items=[{"sku": "X", "quantity": "1", "total": "1.00"}]), "quantity"),
        (order(date_paid_gmt="tomorrow"), "date_paid_gmt"),
        (order(id=None), "id"),
    ],
)
def test_malformed_orders_name_the_field(data, field):
    with pytest.raises(PayloadInvalid) as caught:
        parse_woocommerce("order.updated", data)
    assert field in caught.value.message
