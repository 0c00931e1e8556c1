"""Shopify order and refund webhooks normalised into ShopEvents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.api.webhooks.errors import PayloadInvalid
from app.api.webhooks.payloads import load_json, parse_shopify

ASSETS = Path(__file__).parents[2] / "assets" / "webhooks"
RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def money(amount: str, shop: str = "USD", presentment: str = "EUR", shown: str = "99.99") -> dict:
    """A Shopify money set whose presentment amount differs from the shop amount."""
    return {
        "shop_money": {"amount": amount, "currency_code": shop},
        "presentment_money": {"amount": shown, "currency_code": presentment},
    }


def order(**fields) -> dict:
    """A paid order: two boards with a discount, shipping and tax on top."""
    return {
        "id": 1001,
        "name": "#1001",
        "currency": "USD",
        "presentment_currency": "EUR",
        "financial_status": "paid",
        "created_at": "2024-04-30T10:00:00-04:00",
        "total_price": "60.40",
        "total_price_set": money("60.40"),
        "taxes_included": False,
        "line_items": [
            {
                "id": 1,
                "sku": "BOARD-R1",
                "title": "Board",
                "quantity": 2,
                "price": "25.00",
                "price_set": money("25.00"),
                "discount_allocations": [{"amount": "5.00", "amount_set": money("5.00")}],
            },
            {"id": 2, "sku": "", "title": "Sticker", "quantity": 1, "price": "1.00"},
        ],
        **fields,
    }


def test_vector_order_is_a_sale_keyed_by_the_order_id():
    body = (ASSETS / "shopify_order.json").read_bytes()
    (sale,) = parse_shopify("orders/paid", load_json(body), received_at=RECEIVED)
    assert (sale.kind, sale.event_id, sale.provider) == (
        "sale",
        "orders/paid:820982911946154508",
        "shopify",
    )
    assert sale.order_key == "820982911946154508"
    assert (sale.currency, sale.amount_minor) == ("USD", 2500)
    assert [(li.sku, li.quantity, li.gross_minor) for li in sale.lines] == [("BOARD-R1", 1, 2500)]
    assert sale.fees_minor is None


def test_lines_use_shop_money_less_discounts_and_the_rest_is_unallocated():
    (sale,) = parse_shopify("orders/paid", order())
    assert sale.amount_minor == 6040
    assert [(li.sku, li.quantity, li.gross_minor) for li in sale.lines] == [
        ("BOARD-R1", 2, 4500),
        (None, 1, 100),
        (None, 1, 1440),
    ]
    assert sale.occurred_at == datetime(2024, 4, 30, 14, 0, tzinfo=UTC)
    assert sale.reference == "#1001"


def test_included_tax_is_taken_out_of_the_line():
    data = order(taxes_included=True, total_price="50.00", total_price_set=money("50.00"))
    data["line_items"] = [
        {"sku": "BOARD-R1", "quantity": 2, "price": "25.00", "tax_lines": [{"price": "8.33"}]}
    ]
    (sale,) = parse_shopify("orders/paid", data)
    assert [li.gross_minor for li in sale.lines] == [4167, 833]


def test_orders_create_counts_only_when_paid_and_names_the_same_order():
    (pending,) = parse_shopify("orders/create", order(financial_status="pending"))
    assert pending.kind == "ignored"
    (created,) = parse_shopify("orders/create", order())
    (paid,) = parse_shopify("orders/paid", order())
    assert created.kind == paid.kind == "sale"
    assert created.order_key == paid.order_key == "1001"
    assert created.event_id != paid.event_id


def test_the_event_id_comes_from_the_signed_body_not_a_header():
    (sale,) = parse_shopify("orders/paid", order())
    assert sale.event_id == "orders/paid:1001"
    (event,) = parse_shopify("refunds/create", refund())
    assert event.event_id == f"refunds/create:{refund()['id']}"


def refund(**fields) -> dict:
    """A refund of one board, with a failed attempt and a shipping adjustment."""
    return {
        "id": 77,
        "order_id": 1001,
        "created_at": "2024-05-02T09:00:00Z",
        "transactions": [
            {"kind": "refund", "status": "success", "amount": "22.50", "currency": "USD"},
            {"kind": "refund", "status": "failure", "amount": "22.50", "currency": "USD"},
            {"kind": "sale", "status": "success", "amount": "60.40", "currency": "USD"},
        ],
        "refund_line_items": [
            {
                "line_item_id": 1,
                "quantity": 1,
                "subtotal": "22.50",
                "subtotal_set": money("22.50"),
                "line_item": {"sku": "BOARD-R1"},
            }
        ],
        **fields,
    }


def test_refund_sums_successful_refund_transactions_and_names_its_lines():
    (event,) = parse_shopify("refunds/create", refund())
    assert (event.kind, event.order_key, event.amount_minor) == ("refund", "1001", 2250)
    assert event.occurred_at == datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    (line,) = event.refund_lines
    assert (line.sku, line.quantity, line.amount_minor, line.line_ref) == ("BOARD-R1", 1, 2250, "1")


def test_refund_prefers_shop_money_of_a_transaction():
    data = refund()
    data["transactions"] = [
        {
            "kind": "refund",
            "status": "success",
            "amount": "20.00",
            "currency": "EUR",
            "amount_set": money("22.50", shown="20.00"),
        }
    ]
    (event,) = parse_shopify("refunds/create", data)
    assert (event.currency, event.amount_minor) == ("USD", 2250)


def test_refund_without_money_is_ignored():
    (event,) = parse_shopify("refunds/create", refund(transactions=[]))
    assert event.kind == "ignored"


def test_other_topics_are_ignored():
    (event,) = parse_shopify("orders/cancelled", order())
    assert (event.kind, event.reference) == ("ignored", "orders/cancelled")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (order(total_price="60.405", total_price_set=None), "total_price"),
        (order(total_price=60.4, total_price_set=None), "total_price"),
        (order(line_items=[{"sku": "X", "quantity": -1, "price": "1.00"}]), "quantity"),
        (order(line_items=[{"sku": "X", "quantity": 1}]), "line_items[0].price"),
        (order(currency=None), "currency"),
        (order(line_items={"sku": "X"}), "line_items"),
        (order(created_at="30/04/2024"), "created_at"),
    ],
)
def test_malformed_orders_name_the_field(data, field):
    with pytest.raises(PayloadInvalid) as caught:
        parse_shopify("orders/paid", data)
    assert field in caught.value.message


def test_refund_without_order_id_is_refused():
    with pytest.raises(PayloadInvalid, match="order_id"):
        parse_shopify("refunds/create", refund(order_id=None))
