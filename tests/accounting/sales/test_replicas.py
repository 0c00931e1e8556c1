"""Every read-check-write on money holds across two real service processes on one database.

Each test starts two uvicorn processes on the suite's database and fires
concurrent signed webhooks or API calls at both, released together.
"""

from __future__ import annotations

import itertools
import json

import pytest
from sqlmodel import col, select

from app.accounting.sales.tables import CapProgress, Sale, Split
from tests import factories
from tests.replicas import fire, post, replicas
from tests.shops import body_of, stripe_checkout, stripe_headers, stripe_refund


@pytest.fixture(scope="module")
def urls(database_url):
    """Two service processes on the suite's database, shared by this module's tests."""
    with replicas(database_url) as started:
        yield started


def _stripe(url: str, payload: dict):
    body = body_of(payload)
    return lambda: post(url, "/webhooks/stripe", content=body, headers=stripe_headers(body))


def _sale(lab, event_id: str, order: str, amount: int) -> None:
    body = body_of(
        stripe_checkout(event_id, order, [{"sku": "BOARD-R1", "quantity": 1, "amount": amount}])
    )
    response = lab.client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.json()["outcomes"] == ["sale_recorded"], response.text


def _ledger_ok(lab) -> None:
    verify = lab.client.get("/api/v1/ledger/verify", headers=lab.admin).json()
    assert verify["ok"] is True, verify


def _account(lab, account: str, currency: str = "EUR") -> int:
    rows = lab.client.get(
        "/api/v1/ledger/balances", params={"prefix": account}, headers=lab.admin
    ).json()["balances"]
    return sum(
        row["balance_minor"]
        for row in rows
        if row["account"] == account and row["currency"] == currency
    )


def test_thirty_refunds_over_two_replicas_never_exceed_the_sale(money_lab, urls, session):
    lab = money_lab
    _sale(lab, "evt_sale", "cs_r", 1000)
    refunds = [stripe_refund(f"evt_refund_{n}", "pi_cs_r", amount_refunded=100) for n in range(30)]
    results = fire([_stripe(urls[n % 2], refund) for n, refund in enumerate(refunds)])
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    outcomes = [r.json()["outcomes"][0] for r in results]
    assert outcomes.count("refund_applied") == 10, outcomes
    assert outcomes.count("refund_exceeds_sale") == 20, outcomes
    sale = session.exec(select(Sale)).one()
    assert sale.refunded_minor == 1000
    # The shop paid back exactly the sale: nothing more left the ledger.
    assert _account(lab, "shop:stripe") == 0
    assert sum(lab.balances("EUR").values()) == 0
    _ledger_ok(lab)


def test_concurrent_dispute_holds_and_releases_move_the_shares_once(money_lab, urls):
    lab = money_lab
    _sale(lab, "evt_sale", "cs_d", 2500)
    owed = lab.balances("EUR")

    def dispute(event_id: str, kind: str) -> dict:
        return {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": 1_760_000_000,
            "data": {
                "object": {
                    "id": "dp_1",
                    "object": "dispute",
                    "amount": 2500,
                    "currency": "eur",
                    "payment_intent": "pi_cs_d",
                    "status": "won",
                }
            },
        }

    holds = fire(
        [
            _stripe(urls[n % 2], dispute(f"evt_hold_{n}", "charge.dispute.created"))
            for n in range(12)
        ]
    )
    held = {c: -_account(lab, f"held:{c}") for c in owed}
    releases = fire(
        [
            _stripe(urls[n % 2], dispute(f"evt_close_{n}", "charge.dispute.closed"))
            for n in range(12)
        ]
    )
    hold_outcomes = [r.json()["outcomes"][0] for r in holds]
    assert hold_outcomes.count("held") == 1, hold_outcomes
    assert set(hold_outcomes) == {"held", "already_held"}
    assert held == owed  # held once, not twice
    release_outcomes = [r.json()["outcomes"][0] for r in releases]
    assert release_outcomes.count("released") == 1, release_outcomes
    assert lab.balances("EUR") == owed
    assert all(_account(lab, f"held:{c}") == 0 for c in owed)
    _ledger_ok(lab)


def test_twenty_deliveries_of_one_order_under_different_event_ids(money_lab, urls):
    lab = money_lab
    payloads = [
        stripe_checkout(
            f"evt_order_{n}",
            "cs_same",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": 4321}],
            payment_intent="pi_same",
        )
        for n in range(20)
    ]
    results = fire([_stripe(urls[n % 2], p) for n, p in enumerate(payloads)])
    assert [r.status_code for r in results] == [200] * 20, [r.text for r in results]
    outcomes = [r.json()["outcomes"][0] for r in results]
    assert outcomes.count("sale_recorded") == 1, outcomes
    assert outcomes.count("duplicate_order") == 19, outcomes
    assert lab.client.get("/api/v1/sales", headers=lab.admin).json()["total"] == 1
    assert sum(lab.balances("EUR").values()) == 4321
    _ledger_ok(lab)


def test_two_batches_for_one_balance_are_paid_once(money_lab, urls):
    lab = money_lab
    _sale(lab, "evt_sale", "cs_p", 10_000)
    request = {"currency": "EUR", "minimum": "0.01"}
    first = lab.client.post("/api/v1/payouts", json=request, headers=lab.admin)
    second = lab.client.post("/api/v1/payouts", json=request, headers=lab.admin)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    batches = [first.json()["id"], second.json()["id"]]
    calls = [
        lambda n=n: post(urls[n % 2], f"/api/v1/payouts/{batches[n % 2]}/paid", headers=lab.admin)
        for n in range(8)
    ]
    results = fire(calls)
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1, [r.text for r in results]
    assert statuses.count(409) == 7
    balances = lab.balances("EUR")
    assert all(owed >= 0 for owed in balances.values()), balances
    assert sum(balances.values()) == balances[1] == 1000  # the commons fund is not paid out
    assert _account(lab, "payouts:eur") == -9000
    _ledger_ok(lab)


def test_concurrent_allocations_of_one_line_split_it_once(money_lab, urls):
    lab = money_lab
    body = body_of(
        stripe_checkout("evt_u", "cs_u", [{"sku": "UNKNOWN-1", "quantity": 1, "amount": 3000}])
    )
    lab.client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    line = lab.client.get("/api/v1/sale-lines/unallocated", headers=lab.admin).json()["items"][0]
    results = fire(
        [
            lambda n=n: post(
                urls[n % 2],
                f"/api/v1/sale-lines/{line['id']}/allocate",
                json={"product_id": lab.product["id"]},
                headers=lab.admin,
            )
            for n in range(8)
        ]
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1 and statuses.count(409) == 7, [r.text for r in results]
    assert sum(lab.balances("EUR").values()) == 3000
    _ledger_ok(lab)


def test_caps_and_carries_hold_over_concurrent_sales_on_two_replicas(money_lab, urls, session):
    lab = money_lab
    factories.capped_funder_equation(lab.client, lab.admin, lab.product["id"], lab.funder["id"])
    sales = [
        stripe_checkout(
            f"evt_cap_{n}", f"cs_cap_{n}", [{"sku": "BOARD-R1", "quantity": 1, "amount": 1001}]
        )
        for n in range(12)
    ]
    results = fire([_stripe(urls[n % 2], s) for n, s in enumerate(sales)])
    assert [r.json()["outcomes"] for r in results] == [["sale_recorded"]] * 12
    balances = lab.balances("EUR")
    assert balances[lab.funder["id"]] == 1500  # the cap, not one cent more
    assert sum(balances.values()) == 12 * 1001
    cap = session.exec(select(CapProgress)).one()
    assert cap.paid_minor == 1500
    # Each split started from the carry the one before it left: the chain is unbroken.
    snapshots = [
        json.loads(row.snapshot)
        for row in session.exec(select(Split).order_by(col(Split.id))).all()
    ]
    for before, after in itertools.pairwise(snapshots):
        assert after["carry_before"] == before["carry_after"]
    _ledger_ok(lab)


def test_concurrent_voids_and_a_refund_over_two_replicas_reverse_once(money_lab, urls, session):
    lab = money_lab
    _sale(lab, "evt_sale", "cs_v", 2500)
    sale = lab.client.get("/api/v1/sales", headers=lab.admin).json()["items"][0]
    calls = [
        lambda n=n: post(
            urls[n % 2],
            f"/api/v1/sales/{sale['id']}/void",
            json={"reason": f"test order {n}"},
            headers=lab.admin,
        )
        for n in range(6)
    ]
    calls += [_stripe(urls[n % 2], stripe_refund(f"evt_rv_{n}", "pi_cs_v", 500)) for n in range(4)]
    results = fire(calls)
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert len({r.json()["void_reason"] for r in results[:6]}) == 1  # one void, seen by all
    entries = lab.client.get(
        "/api/v1/ledger/entries", params={"limit": 500}, headers=lab.admin
    ).json()["items"]
    assert len({e["transaction_id"] for e in entries if e["kind"] == "void"}) == 1
    rows = lab.client.get("/api/v1/ledger/balances", headers=lab.admin).json()["balances"]
    assert [r for r in rows if r["balance_minor"]] == []  # back to zero, refunds or not
    _ledger_ok(lab)
