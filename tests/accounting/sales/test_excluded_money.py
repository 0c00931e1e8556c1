"""Money in another currency than the sale's is shown as excluded, with why; preview = real split."""

from __future__ import annotations

import json

from sqlmodel import select

from app.accounting.sales.tables import Split
from tests import factories
from tests.shops import body_of, stripe_checkout, stripe_headers


def _shares(split: dict) -> dict[int, int]:
    return {r["contributor_id"]: r["amount_minor"] for r in split["recipients"]}


def _sell(lab, event_id: str, currency: str, amount: int) -> None:
    body = body_of(
        stripe_checkout(
            event_id,
            f"cs_{event_id}",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": amount}],
            currency=currency,
        )
    )
    sold = lab.client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert sold.json()["outcomes"] == ["sale_recorded"], sold.text


def _money(lab, approver, currency: str) -> dict:
    row = lab.client.post(
        "/api/v1/contributions",
        json={
            "contributor_id": lab.funder["id"],
            "product_id": lab.product["id"],
            "kind": "money",
            "amount": "40.00",
            "currency": currency,
            "occurred_at": "2026-01-01T00:00:00Z",
        },
        headers=lab.admin,
    ).json()
    approved = lab.client.post(f"/api/v1/contributions/{row['id']}/approve", headers=approver)
    assert approved.status_code == 200, approved.text
    return row


def _preview(lab, currency: str, amount: str = "25.00") -> dict:
    response = lab.client.get(
        f"/api/v1/products/{lab.product['id']}/preview",
        params={"amount": amount, "currency": currency},
        headers=lab.admin,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_eur_money_is_excluded_from_a_usd_sale_with_why(money_lab, approver, session):
    lab = money_lab
    eur = _money(lab, approver, "EUR")
    preview = _preview(lab, "USD")
    (excluded,) = preview["split"]["excluded"]
    assert excluded["contribution_id"] == eur["id"]
    assert excluded["contributor_id"] == lab.funder["id"]
    assert "money in EUR, the sale is in USD" in excluded["reason"]
    assert "exchange rates" in excluded["reason"]
    assert preview["split"]["left_out"] == [eur["id"]]

    _sell(lab, "evt_usd", "usd", 2500)
    (split,) = session.exec(select(Split)).all()
    snapshot = json.loads(split.snapshot)
    assert snapshot["excluded"] == [
        {
            "contribution_id": eur["id"],
            "contributor_id": lab.funder["id"],
            "kind": "money",
            "reason": excluded["reason"],
        }
    ]
    # In a EUR sale the same money counts, and nothing is excluded.
    assert _preview(lab, "EUR")["split"]["excluded"] == []


def test_preview_agrees_with_a_real_sale_when_caps_are_in_another_currency(money_lab):
    lab = money_lab
    factories.capped_funder_equation(lab.client, lab.admin, lab.product["id"], lab.funder["id"])
    preview = _preview(lab, "USD")  # was refused: "version 2 has caps in EUR"
    assert any("caps of version" in note and "EUR" in note for note in preview["split"]["notes"])
    _sell(lab, "evt_usd_cap", "usd", 2500)
    assert {c: a for c, a in lab.balances("USD").items() if a} == _shares(preview["split"])
    assert lab.balances("USD").get(lab.funder["id"], 0) == 0  # a EUR cap takes nothing in USD
