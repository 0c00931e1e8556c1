"""A signed sale becomes exact balances on a verifiable ledger; refunds, disputes, payouts."""

from __future__ import annotations

import json
import time

from tests import factories
from tests.shops import (
    body_of,
    generic_headers,
    shopify_headers,
    stripe_checkout,
    stripe_headers,
    stripe_refund,
    woo_headers,
)


def post_stripe(client, payload, **kw):
    body = body_of(payload)
    return client.post("/webhooks/stripe", content=body, headers=stripe_headers(body, **kw))


def test_stripe_sale_splits_to_the_cent_and_the_ledger_verifies(money_lab):
    lab = money_lab
    response = post_stripe(
        lab.client,
        stripe_checkout("evt_1", "cs_1", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcomes"] == ["sale_recorded"]
    balances = lab.balances("EUR")
    assert sum(balances.values()) == 2500
    # Default equation: 10 % to the commons fund, the rest by points:
    # Ada 2 h labour = 2 points, Bob 1 h = 1 point, the funder's printer 3 busy hours x 0.5 = 1.5 points.
    assert balances[1] == 250
    assert balances[lab.ada["id"]] == 1000
    assert balances[lab.bob["id"]] == 500
    assert balances[lab.funder["id"]] == 750
    verify = lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()
    assert verify["ok"] is True and verify["entries"] > 0


def test_duplicate_delivery_answers_200_and_changes_nothing(money_lab):
    lab = money_lab
    payload = stripe_checkout(
        "evt_dup", "cs_dup", [{"sku": "BOARD-R1", "quantity": 1, "amount": 1000}]
    )
    first = post_stripe(lab.client, payload)
    before = lab.balances()
    again = post_stripe(lab.client, payload)
    assert again.status_code == 200 and again.json()["outcomes"] == ["duplicate"]
    assert lab.balances() == before
    assert first.json()["outcomes"] == ["sale_recorded"]
    assert lab.client.get("/api/v1/sales", headers=lab.admin).json()["total"] == 1


def test_bad_signature_is_refused_and_recorded_without_payload(money_lab):
    lab = money_lab
    body = body_of(
        stripe_checkout("evt_bad", "cs_bad", [{"sku": "BOARD-R1", "quantity": 1, "amount": 1000}])
    )
    forged = lab.client.post(
        "/webhooks/stripe", content=body, headers=stripe_headers(body, secret="whsec_wrong")
    )
    assert forged.status_code in (400, 401)
    assert forged.json()["error"]["code"]
    missing = lab.client.post(
        "/webhooks/stripe", content=body, headers={"Content-Type": "application/json"}
    )
    assert missing.status_code in (400, 401)
    stale = lab.client.post(
        "/webhooks/stripe", content=body, headers=stripe_headers(body, t=int(time.time()) - 400)
    )
    assert stale.status_code in (400, 401)
    rejected = lab.client.get("/api/v1/deliveries/rejected", headers=lab.admin).json()["items"]
    assert len(rejected) == 3
    assert all("evt_bad" not in json.dumps(r) and "whsec" not in json.dumps(r) for r in rejected)
    assert lab.client.get("/api/v1/sales", headers=lab.admin).json()["total"] == 0
    assert lab.balances() == {}


def test_shopify_create_then_paid_is_one_sale(money_lab):
    lab = money_lab
    order = {
        "id": 820982911946154508,
        "currency": "USD",
        "total_price": "25.00",
        "financial_status": "paid",
        "line_items": [{"id": 466157049, "sku": "BOARD-R1", "quantity": 1, "price": "25.00"}],
    }
    body = body_of(order)
    created = lab.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(body, "orders/create", "e-1")
    )
    paid = lab.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(body, "orders/paid", "e-2")
    )
    assert created.status_code == 200 and paid.status_code == 200, (created.text, paid.text)
    assert lab.client.get("/api/v1/sales", headers=lab.admin).json()["total"] == 1
    assert sum(lab.balances("USD").values()) == 2500


def test_a_shopify_refund_replayed_under_new_event_id_headers_is_applied_once(money_lab):
    lab = money_lab
    order = {
        "id": 5001,
        "currency": "USD",
        "total_price": "100.00",
        "financial_status": "paid",
        "line_items": [{"id": 1, "sku": "BOARD-R1", "quantity": 1, "price": "100.00"}],
    }
    body = body_of(order)
    lab.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(body, "orders/paid", "e-1")
    )
    refund = body_of(
        {
            "id": 901,
            "order_id": 5001,
            "transactions": [
                {"kind": "refund", "status": "success", "amount": "30.00", "currency": "USD"}
            ],
        }
    )
    outcomes = [
        lab.client.post(
            "/webhooks/shopify",
            content=refund,
            headers=shopify_headers(refund, "refunds/create", f"replayed-{n}"),
        ).json()["outcomes"]
        for n in range(3)
    ]
    assert outcomes == [["refund_applied"], ["duplicate"], ["duplicate"]]
    sale = lab.client.get("/api/v1/sales", headers=lab.admin).json()["items"][0]
    assert sale["refunded_minor"] == 3000
    assert sum(lab.balances("USD").values()) == 7000


def test_woocommerce_ping_and_signed_order(money_lab):
    lab = money_lab
    ping = lab.client.post(
        "/webhooks/woocommerce",
        content=b"webhook_id=17",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping.status_code == 200
    order = {
        "id": 4750,
        "status": "processing",
        "currency": "EUR",
        "total": "25.00",
        "line_items": [{"id": 1, "sku": "BOARD-R1", "quantity": 1, "total": "25.00"}],
    }
    body = body_of(order)
    response = lab.client.post(
        "/webhooks/woocommerce", content=body, headers=woo_headers(body, "order.updated")
    )
    assert response.status_code == 200, response.text
    assert sum(lab.balances("EUR").values()) == 2500


def test_generic_webhook_in_minor_units(money_lab):
    lab = money_lab
    event = {
        "id": "g-1",
        "type": "sale",
        "order": "o-1",
        "currency": "JPY",
        "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount_minor": 3001}],
    }
    body = body_of(event)
    response = lab.client.post("/webhooks/generic", content=body, headers=generic_headers(body))
    assert response.status_code == 200, response.text
    balances = lab.balances("JPY")
    assert sum(balances.values()) == 3001


def test_a_payout_in_a_currency_without_decimals_needs_no_minimum(money_lab):
    # The default minimum was "0.01", which JPY cannot express: every JPY batch was a 422.
    lab = money_lab
    event = {
        "id": "g-jpy",
        "type": "sale",
        "order": "o-jpy",
        "currency": "JPY",
        "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount_minor": 901}],
    }
    body = body_of(event)
    assert lab.client.post(
        "/webhooks/generic", content=body, headers=generic_headers(body)
    ).is_success
    owed = {c: a for c, a in lab.balances("JPY").items() if c != 1}
    made = lab.client.post("/api/v1/payouts", json={"currency": "JPY"}, headers=lab.admin)
    assert made.status_code == 201, made.text
    paid = {item["contributor_id"]: item["amount_minor"] for item in made.json()["items"]}
    assert paid == {c: a for c, a in owed.items() if a >= 1}


def test_unmatched_line_is_kept_and_allocatable(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_u",
            "cs_u",
            [
                {"sku": "MYSTERY", "quantity": 1, "amount": 1200},
                {"sku": "BOARD-R1", "quantity": 1, "amount": 800},
            ],
        ),
    )
    assert sum(lab.balances("EUR").values()) == 800
    (line,) = lab.client.get("/api/v1/sale-lines/unallocated", headers=lab.admin).json()["items"]
    assert line["gross_minor"] == 1200 and line["sku"] == "MYSTERY"
    allocated = lab.client.post(
        f"/api/v1/sale-lines/{line['id']}/allocate",
        json={"product_id": lab.product["id"]},
        headers=lab.admin,
    )
    assert allocated.status_code == 200, allocated.text
    assert sum(lab.balances("EUR").values()) == 2000
    assert lab.client.get("/api/v1/sale-lines/unallocated", headers=lab.admin).json()["total"] == 0
    assert lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()["ok"]


def test_fees_are_deducted_in_proportion(money_lab):
    lab = money_lab
    second = factories.product(lab.client, lab.admin, "CASE-R1")
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_f",
            "cs_f",
            [
                {"sku": "BOARD-R1", "quantity": 1, "amount": 3000},
                {"sku": "CASE-R1", "quantity": 1, "amount": 1000},
            ],
            fees=101,
        ),
    )
    sale = lab.client.get("/api/v1/sales", headers=lab.admin).json()["items"][0]
    fees = [line["fee_minor"] for line in sale["lines"]]
    assert fees == [76, 25] and sum(fees) == 101
    assert sum(lab.balances("EUR").values()) == 4000 - 101
    assert second["id"]


def test_full_refund_nets_every_contributor_to_zero(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_s",
            "cs_s",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": 2999}],
            payment_intent="pi_77",
        ),
    )
    assert sum(lab.balances().values()) == 2999
    refund = post_stripe(lab.client, stripe_refund("evt_r", "pi_77", 2999))
    assert refund.json()["outcomes"] == ["refund_applied"]
    assert all(amount == 0 for amount in lab.balances().values())
    assert lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()["ok"]


def test_partial_refunds_add_up_and_refund_before_sale_is_parked(money_lab):
    lab = money_lab
    early = post_stripe(lab.client, stripe_refund("evt_r1", "pi_9", 1000))
    assert early.json()["outcomes"] == ["refund_parked"]
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_s9",
            "cs_9",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": 3333}],
            payment_intent="pi_9",
        ),
    )
    assert sum(lab.balances().values()) == 2333
    post_stripe(lab.client, stripe_refund("evt_r2", "pi_9", 3333, previously=1000))
    assert all(amount == 0 for amount in lab.balances().values())


def test_dispute_holds_then_releases(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_d",
            "cs_d",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": 2000}],
            payment_intent="pi_d",
        ),
    )
    dispute = {
        "id": "evt_dc",
        "object": "event",
        "type": "charge.dispute.created",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "dp_1",
                "object": "dispute",
                "amount": 2000,
                "currency": "eur",
                "payment_intent": "pi_d",
                "charge": "ch_d",
                "status": "needs_response",
            }
        },
    }
    assert post_stripe(lab.client, dispute).json()["outcomes"] == ["held"]
    assert sum(lab.balances().values()) == 0
    rows = lab.client.get("/api/v1/balances", headers=lab.admin).json()
    assert sum(row["held_minor"] for row in rows) == 2000
    closed = {**dispute, "id": "evt_dx", "type": "charge.dispute.closed"}
    closed["data"] = {"object": {**dispute["data"]["object"], "status": "won"}}
    assert post_stripe(lab.client, closed).json()["outcomes"] == ["released"]
    assert sum(lab.balances().values()) == 2000


def test_payout_batch_pays_balances_once(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout("evt_p", "cs_p", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    made = lab.client.post(
        "/api/v1/payouts", json={"currency": "EUR", "minimum": "6.00"}, headers=lab.admin
    )
    assert made.status_code == 201, made.text
    batch = made.json()
    paid_people = {item["contributor_id"]: item["amount_minor"] for item in batch["items"]}
    assert paid_people == {lab.ada["id"]: 1000, lab.funder["id"]: 750}
    csv_text = lab.client.get(f"/api/v1/payouts/{batch['id']}.csv", headers=lab.admin).text
    assert csv_text.splitlines()[0] == "name,payout_details,amount,currency,reference"
    assert "Ada" in csv_text and "10.00" in csv_text and "7.50" in csv_text
    assert (
        lab.client.post(f"/api/v1/payouts/{batch['id']}/paid", headers=lab.admin).status_code == 200
    )
    twice = lab.client.post(f"/api/v1/payouts/{batch['id']}/paid", headers=lab.admin)
    assert twice.status_code == 409
    balances = lab.balances("EUR")
    assert balances[lab.ada["id"]] == 0 and balances[lab.bob["id"]] == 500
    assert lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()["ok"]


def test_refund_after_batch_blocks_overpaying(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_o",
            "cs_o",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}],
            payment_intent="pi_o",
        ),
    )
    batch = lab.client.post(
        "/api/v1/payouts", json={"currency": "EUR", "minimum": "0.01"}, headers=lab.admin
    ).json()
    post_stripe(lab.client, stripe_refund("evt_or", "pi_o", 2500))
    refused = lab.client.post(f"/api/v1/payouts/{batch['id']}/paid", headers=lab.admin)
    assert refused.status_code == 409
    assert "changed" in refused.json()["error"]["message"]
