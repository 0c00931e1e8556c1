"""A funder's debt-like claim is paid until its cap, then flows on; the preview knows it."""

from __future__ import annotations

from tests import factories
from tests.accounting.sales.test_flow import post_stripe
from tests.shops import stripe_checkout


def _shares(preview: dict) -> dict[int, int]:
    return {r["contributor_id"]: r["amount_minor"] for r in preview["split"]["recipients"]}


def test_capped_funder_is_paid_back_then_the_share_flows_on(money_lab):
    lab = money_lab
    factories.capped_funder_equation(
        lab.client,
        lab.admin,
        lab.product["id"],
        lab.funder["id"],
        effective_from="2026-01-01T00:00:00Z",
    )
    preview = lab.client.get(
        f"/api/v1/products/{lab.product['id']}/preview",
        params={"amount": "25.00", "currency": "EUR"},
        headers=lab.admin,
    ).json()
    # 25.00: commons 2.50, payback 40 % = 10.00 (under the 15.00 cap), makers 12.50 by labour points 2 : 1.
    assert _shares(preview) == {
        1: 250,
        lab.funder["id"]: 1000,
        lab.ada["id"]: 833,
        lab.bob["id"]: 417,
    }

    post_stripe(
        lab.client,
        stripe_checkout("evt_c1", "cs_c1", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    assert lab.balances("EUR")[lab.funder["id"]] == 1000
    after_one = lab.client.get(
        f"/api/v1/products/{lab.product['id']}/preview",
        params={"amount": "25.00", "currency": "EUR"},
        headers=lab.admin,
    ).json()
    # Only 5.00 of the cap is left: the other 5.00 flows on to the makers (17.50 by 2 : 1).
    assert _shares(after_one)[lab.funder["id"]] == 500
    assert sum(_shares(after_one).values()) == 2500

    post_stripe(
        lab.client,
        stripe_checkout("evt_c2", "cs_c2", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    post_stripe(
        lab.client,
        stripe_checkout("evt_c3", "cs_c3", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    balances = lab.balances("EUR")
    assert balances[lab.funder["id"]] == 1500
    assert sum(balances.values()) == 7500
    last = lab.client.get(
        f"/api/v1/products/{lab.product['id']}/preview",
        params={"amount": "25.00", "currency": "EUR"},
        headers=lab.admin,
    ).json()
    assert lab.funder["id"] not in _shares(last) or _shares(last)[lab.funder["id"]] == 0


def test_a_cap_in_euros_is_not_paid_from_yen(money_lab):
    lab = money_lab
    factories.capped_funder_equation(
        lab.client,
        lab.admin,
        lab.product["id"],
        lab.funder["id"],
        effective_from="2026-01-01T00:00:00Z",
        commons=False,
        payback_percent="50",
    )
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_y", "cs_y", [{"sku": "BOARD-R1", "quantity": 1, "amount": 3000}], currency="jpy"
        ),
    )
    balances = lab.balances("JPY")
    assert balances.get(lab.funder["id"], 0) == 0
    assert balances[lab.ada["id"]] == 2000 and balances[lab.bob["id"]] == 1000
