"""An admin voids a mistaken sale: one reversing transaction, nothing deleted, idempotent."""

from __future__ import annotations

from sqlmodel import col, select

from app.accounting.ledger.tables import LedgerEntry
from tests.shops import body_of, generic_headers, stripe_checkout, stripe_headers, stripe_refund


def _stripe(lab, payload):
    body = body_of(payload)
    return lab.client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))


def _ledger(lab) -> dict:
    rows = lab.client.get("/api/v1/ledger/balances", headers=lab.admin).json()["balances"]
    return {(r["account"], r["currency"]): r["balance_minor"] for r in rows if r["balance_minor"]}


def test_a_sale_in_the_wrong_unit_is_voided_and_every_account_returns(money_lab, session):
    lab = money_lab
    # Meant as 50.00 USD, sent as 5000 major units' worth: 500000 minor.
    event = {
        "id": "g-wrong",
        "type": "sale",
        "order": "o-wrong",
        "currency": "USD",
        "fees_minor": 1500,
        "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount_minor": 500000}],
    }
    body = body_of(event)
    lab.client.post("/webhooks/generic", content=body, headers=generic_headers(body))
    sale = lab.client.get("/api/v1/sales", headers=lab.admin).json()["items"][0]
    entries_before = session.exec(select(LedgerEntry)).all()
    assert lab.balances("USD")

    voided = lab.client.post(
        f"/api/v1/sales/{sale['id']}/void",
        json={"reason": "amount sent in minor units twice over"},
        headers=lab.admin,
    )
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert body["voided_at"] and body["void_reason"] == "amount sent in minor units twice over"
    assert body["gross_minor"] == 500000 and body["currency_exponent"] == 2  # nothing rewritten
    assert _ledger(lab) == {}  # every account the sale moved is back at zero
    assert all(owed == 0 for owed in lab.balances("USD").values())
    entries_after = session.exec(select(LedgerEntry).order_by(col(LedgerEntry.sequence))).all()
    assert len(entries_after) > len(entries_before)  # appended, nothing deleted
    assert {e.kind for e in entries_after[len(entries_before) :]} == {"void"}
    assert lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()["ok"] is True

    again = lab.client.post(
        f"/api/v1/sales/{sale['id']}/void", json={"reason": "again"}, headers=lab.admin
    )
    assert again.status_code == 200
    assert again.json()["void_reason"] == "amount sent in minor units twice over"
    assert len(session.exec(select(LedgerEntry)).all()) == len(entries_after)


def test_a_partly_refunded_sale_voids_to_zero_and_later_refunds_are_kept_out(money_lab):
    lab = money_lab
    _stripe(
        lab,
        stripe_checkout(
            "evt_s", "cs_v", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}], fees=90
        ),
    )
    _stripe(lab, stripe_refund("evt_r1", "pi_cs_v", 700))
    sale = lab.client.get("/api/v1/sales", headers=lab.admin).json()["items"][0]
    voided = lab.client.post(
        f"/api/v1/sales/{sale['id']}/void", json={"reason": "test order"}, headers=lab.admin
    )
    assert voided.status_code == 200, voided.text
    assert _ledger(lab) == {}
    late = _stripe(lab, stripe_refund("evt_r2", "pi_cs_v", 1400, previously=700))
    assert late.json()["outcomes"] == ["sale_voided"]
    assert _ledger(lab) == {}


def test_void_is_refused_once_shares_were_paid_out_and_needs_an_admin(money_lab, key_for):
    from app.api.keys import Role

    lab = money_lab
    _stripe(
        lab, stripe_checkout("evt_p", "cs_p", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}])
    )
    sale = lab.client.get("/api/v1/sales", headers=lab.admin).json()["items"][0]
    operator = key_for(Role.OPERATOR)
    assert (
        lab.client.post(
            f"/api/v1/sales/{sale['id']}/void", json={"reason": "oops"}, headers=operator
        ).status_code
        == 403
    )
    batch = lab.client.post(
        "/api/v1/payouts", json={"currency": "EUR", "minimum": "0.01"}, headers=lab.admin
    ).json()
    assert (
        lab.client.post(f"/api/v1/payouts/{batch['id']}/paid", headers=lab.admin).status_code == 200
    )
    before = _ledger(lab)
    refused = lab.client.post(
        f"/api/v1/sales/{sale['id']}/void", json={"reason": "too late"}, headers=lab.admin
    )
    assert refused.status_code == 409
    assert "already paid out" in refused.json()["error"]["message"]
    assert _ledger(lab) == before
    assert (
        lab.client.get(f"/api/v1/sales/{sale['id']}", headers=lab.admin).json()["voided_at"] is None
    )
