"""One bound for every amount (MAX_MINOR = 2**62), checked at the edge; balances never overflow."""

from __future__ import annotations

import pytest

from app.accounting.money import MAX_MINOR
from tests.shops import body_of, generic_headers, shopify_headers, stripe_checkout, stripe_headers

BIG = 4 * 10**18  # below MAX_MINOR (4.61e18); three of them pass 2**63


def _generic(lab, event: dict):
    body = body_of(event)
    return lab.client.post("/webhooks/generic", content=body, headers=generic_headers(body))


def _rejected(lab) -> list[dict]:
    return lab.client.get("/api/v1/deliveries/rejected", headers=lab.admin).json()["items"]


def test_three_large_sales_keep_balances_exact(money_lab):
    lab = money_lab
    for n in range(3):
        sold = _generic(
            lab,
            {
                "id": f"big-{n}",
                "type": "sale",
                "order": f"big-{n}",
                "currency": "JPY",
                "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount_minor": BIG}],
            },
        )
        assert sold.json()["outcomes"] == ["sale_recorded"], sold.text
    balances = lab.client.get("/api/v1/balances", headers=lab.admin)
    assert balances.status_code == 200, balances.text
    assert sum(row["owed_minor"] for row in balances.json()) == 3 * BIG
    ledger = lab.client.get(
        "/api/v1/ledger/balances", params={"prefix": "shop:"}, headers=lab.admin
    )
    assert ledger.status_code == 200, ledger.text
    assert ledger.json()["balances"] == [
        {"account": "shop:generic", "currency": "JPY", "balance_minor": 3 * BIG}
    ]
    assert lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()["ok"] is True


@pytest.mark.parametrize("amount", [MAX_MINOR + 1, -(MAX_MINOR + 1)])
def test_a_generic_amount_past_the_bound_is_a_recorded_rejection(money_lab, amount):
    lab = money_lab
    refused = _generic(
        lab,
        {
            "id": "too-big",
            "type": "sale",
            "order": "too-big",
            "currency": "EUR",
            "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount_minor": amount}],
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("lines[0].amount_minor")
    (rejected,) = _rejected(lab)
    assert rejected["provider"] == "generic"
    assert lab.client.get("/api/v1/sales", headers=lab.admin).json()["total"] == 0


def test_a_stripe_total_past_the_bound_is_a_recorded_rejection(money_lab):
    lab = money_lab
    body = body_of(
        stripe_checkout("evt_big", "cs_big", [{"sku": "BOARD-R1", "quantity": 1, "amount": 1}])
    )
    body = body.replace(b'"amount_total":1', f'"amount_total":{MAX_MINOR + 1}'.encode())
    refused = lab.client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert refused.status_code == 400, refused.text
    assert "2**62" in refused.json()["error"]["message"]
    assert len(_rejected(lab)) == 1


def test_a_shopify_refund_adding_up_past_the_bound_is_a_recorded_rejection(money_lab):
    lab = money_lab
    alone = "50000000000000000.00"  # USD: 5e18 minor, past the bound alone
    body = body_of(
        {
            "id": 1,
            "order_id": 2,
            "transactions": [
                {"kind": "refund", "status": "success", "amount": alone, "currency": "USD"}
            ],
        }
    )
    refused = lab.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(body, "refunds/create", "x")
    )
    assert refused.status_code == 400, refused.text
    assert len(_rejected(lab)) == 1
    near = "30000000000000000.00"  # 3e18 minor each: two add up past the bound
    body = body_of(
        {
            "id": 3,
            "order_id": 2,
            "transactions": [
                {"kind": "refund", "status": "success", "amount": near, "currency": "USD"},
                {"kind": "refund", "status": "success", "amount": near, "currency": "USD"},
            ],
        }
    )
    refused = lab.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(body, "refunds/create", "y")
    )
    assert refused.status_code in (400, 422), refused.text
    assert "2**62" in refused.json()["error"]["message"]
    assert len(_rejected(lab)) == 2
