"""LabLedger's generic webhook format, and JSON loading."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.api.webhooks.errors import PayloadInvalid
from app.api.webhooks.payloads import load_json, parse_generic


def sale(**fields) -> dict:
    """A generic sale of two lines."""
    return {
        "id": "evt-1",
        "type": "sale",
        "order": "A-1",
        "occurred_at": "2024-05-01T10:00:00+02:00",
        "currency": "KWD",
        "lines": [
            {"sku": "BOARD-R1", "quantity": 1, "amount_minor": 1234},
            {"sku": None, "quantity": 1, "amount_minor": 100, "description": "gift wrap"},
        ],
        "fees_minor": 50,
        **fields,
    }


def test_generic_sale_keeps_minor_units_as_sent():
    (event,) = parse_generic(sale())
    assert (event.provider, event.kind, event.order_key) == ("generic", "sale", "A-1")
    assert (event.currency, event.amount_minor, event.fees_minor) == ("KWD", 1334, 50)
    assert event.occurred_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert event.lines[1].description == "gift wrap"


def test_generic_sale_with_a_larger_amount_keeps_the_rest_unallocated():
    (event,) = parse_generic(sale(amount_minor=2000))
    assert event.amount_minor == 2000
    assert event.lines[-1].sku is None
    assert event.lines[-1].gross_minor == 666


def test_generic_refund_needs_a_positive_amount():
    data = {
        "id": "evt-2",
        "type": "refund",
        "order": "A-1",
        "currency": "KWD",
        "amount_minor": 1234,
    }
    (event,) = parse_generic(data, received_at=datetime(2024, 5, 2, tzinfo=UTC))
    assert (event.kind, event.refund_minor) == ("refund", 1234)
    with pytest.raises(PayloadInvalid, match="amount_minor"):
        parse_generic({**data, "amount_minor": 0}, received_at=datetime(2024, 5, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (sale(type="payout"), "type"),
        (
            sale(lines=[{"sku": "X", "quantity": 1, "amount_minor": "12.34"}]),
            "lines[0].amount_minor",
        ),
        (sale(lines=[{"sku": "X", "quantity": 1, "amount_minor": 12.5}]), "lines[0].amount_minor"),
        (sale(lines=[{"sku": "X", "quantity": True, "amount_minor": 1}]), "lines[0].quantity"),
        (sale(order=""), "order"),
        (sale(fees_minor=-1), "fees_minor"),
        (sale(fees=1), "fees"),
        (sale(amount=1334), "amount"),
        (sale(lines=[{"sku": "X", "quantity": 1, "amount": 1}]), "lines[0].amount"),
        (sale(lines=[], amount_minor=None), "lines"),
        (sale(occurred_at="2024-05-01T10:00:00"), "occurred_at"),
    ],
)
def test_malformed_generic_events_name_the_field(data, field):
    with pytest.raises(PayloadInvalid) as caught:
        parse_generic(data)
    assert caught.value.message.startswith(field)


def test_missing_time_without_receive_time_is_refused():
    with pytest.raises(PayloadInvalid, match="occurred_at"):
        parse_generic(sale(occurred_at=None))


def test_load_json_reads_fractions_as_decimal_and_refuses_nan():
    assert load_json(b'{"a": 25.10}') == {"a": Decimal("25.10")}
    for body in (b'{"a": NaN}', b"\xff", b"{", b"[" * 100_000):
        with pytest.raises(PayloadInvalid, match="body"):
            load_json(body)


def test_old_unit_less_names_are_refused_naming_the_new_field():
    with pytest.raises(PayloadInvalid) as caught:
        parse_generic(sale(amount=5000))
    assert "renamed 'amount_minor'" in caught.value.message
    assert "minor unit" in caught.value.message


@pytest.mark.parametrize("where", ["amount_minor", "fees_minor"])
def test_amounts_past_the_ledger_bound_are_refused_at_the_edge(where):
    with pytest.raises(PayloadInvalid) as caught:
        parse_generic(sale(**{where: 2**62 + 1}))
    assert caught.value.message.startswith(where)
    (event,) = parse_generic(sale(amount_minor=2**62, fees_minor=0))
    assert event.amount_minor == 2**62
