"""Product figures for the dashboards: time put in, and what sales brought."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.accounting.sales.test_flow import post_stripe
from tests.shops import stripe_checkout


def test_product_figures_show_time_and_sale_value(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout("evt_p", "cs_p", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    today = datetime.now(UTC).date()
    rows = lab.get(
        "stats/products",
        since="2026-03-01T00:00:00Z",
        until=(today + timedelta(days=1)).isoformat() + "T00:00:00Z",
        by="month",
    )
    sold = [r for r in rows if r["currency"] == "EUR"]
    assert len(sold) == 1 and sold[0]["net_minor"] == 2500 and sold[0]["allocated_minor"] == 2500
    worked_on = [r for r in rows if r["period"] == "2026-03-01"]
    assert worked_on and worked_on[0]["labour_s"] > 0 and worked_on[0]["machine_s"] == 3 * 3600
