"""A process keeps what its sales read about a product, and sees every change to it at once.

Each test makes a sale (so the selling process keeps the product's SKU and
equations), changes something through the API, and makes another sale that
must follow the change: in one process (the test client both sells and
writes), and across two service processes (one sells, the other writes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.accounting.sales.tables import ParkedRefund, SaleLine, Split
from app.api.keys import Role
from tests import factories
from tests.replicas import post, replicas
from tests.shops import body_of, stripe_checkout, stripe_headers, stripe_refund

Call = Callable[..., Any]


@pytest.fixture(scope="module")
def urls(database_url):
    """Two service processes on the suite's database, shared by this module's tests."""
    with replicas(database_url) as started:
        yield started


@pytest.fixture(params=["one process", "two processes"])
def seller_and_writer(request, money_lab) -> tuple[Call, Call]:
    """POST callables: the process that sells, and the one that changes the product."""
    if request.param == "one process":
        return money_lab.client.post, money_lab.client.post
    sell_url, write_url = request.getfixturevalue("urls")
    return (
        lambda path, **kwargs: post(sell_url, path, **kwargs),
        lambda path, **kwargs: post(write_url, path, **kwargs),
    )


def _sell(seller: Call, n: int, sku: str = "BOARD-R1", amount: int = 1000) -> list[str]:
    payload = stripe_checkout(
        f"evt_cache_{n}", f"cs_cache_{n}", [{"sku": sku, "quantity": 1, "amount": amount}]
    )
    body = body_of(payload)
    response = seller("/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    return list(response.json()["outcomes"])


def _line(session: Session, n: int) -> SaleLine:
    session.expire_all()
    return session.exec(
        select(SaleLine).where(col(SaleLine.sku).is_not(None)).order_by(col(SaleLine.id))
    ).all()[n]


def _last_split(session: Session) -> dict[str, Any]:
    session.expire_all()
    row = session.exec(select(Split).order_by(col(Split.id).desc())).first()
    assert row is not None
    return dict(json.loads(row.snapshot))


def test_a_sku_moved_to_another_product_is_sold_as_the_new_one(
    money_lab, seller_and_writer, session
):
    sell, write = seller_and_writer
    lab = money_lab
    assert _sell(sell, 1) == ["sale_recorded"]
    assert _line(session, 0).product_id == lab.product["id"]
    kept = lab.client.patch(
        f"/api/v1/products/{lab.product['id']}", json={"skus": ["BOARD-R0"]}, headers=lab.admin
    )
    assert kept.status_code == 200, kept.text
    moved = write(
        "/api/v1/products", json={"name": "Board, new", "skus": ["BOARD-R1"]}, headers=lab.admin
    )
    assert moved.status_code == 201, moved.text
    assert _sell(sell, 2) == ["sale_recorded"]
    assert _line(session, 1).product_id == moved.json()["id"]


def test_a_sku_taken_off_its_product_is_sold_unallocated(money_lab, seller_and_writer, session):
    sell, _write = seller_and_writer
    lab = money_lab
    assert _sell(sell, 1) == ["sale_recorded"]
    changed = lab.client.patch(
        f"/api/v1/products/{lab.product['id']}", json={"skus": ["BOARD-R0"]}, headers=lab.admin
    )
    assert changed.status_code == 200, changed.text
    assert _sell(sell, 2) == ["sale_recorded"]
    assert _line(session, 1).product_id is None


def test_a_new_equation_version_splits_the_next_sale(money_lab, seller_and_writer, session):
    sell, write = seller_and_writer
    lab = money_lab
    assert _sell(sell, 1) == ["sale_recorded"]
    assert _last_split(session)["equation_version"] == 0
    body = {
        "effective_from": "2020-01-01T00:00:00Z",
        "buckets": [
            {
                "name": "all to the funder",
                "mode": "straight",
                "percent": "100",
                "paid_to": "contributor",
                "contributor_id": lab.funder["id"],
            }
        ],
    }
    added = write(f"/api/v1/products/{lab.product['id']}/equations", json=body, headers=lab.admin)
    assert added.status_code == 201, added.text
    assert _sell(sell, 2) == ["sale_recorded"]
    split = _last_split(session)
    assert split["equation_version"] == 1
    assert split["shares"] == {str(lab.funder["id"]): 1000}


def test_an_approved_contribution_counts_in_the_next_sale(
    money_lab, seller_and_writer, session, key_for
):
    sell, write = seller_and_writer
    lab = money_lab
    newcomer = factories.contributor(lab.client, lab.admin, name="Newcomer")
    assert _sell(sell, 1) == ["sale_recorded"]
    assert str(newcomer["id"]) not in _last_split(session)["shares"]
    row = write(
        "/api/v1/contributions",
        json={
            "contributor_id": newcomer["id"],
            "product_id": lab.product["id"],
            "kind": "labour",
            "hours": "5",
            "occurred_at": "2026-01-01T00:00:00Z",
        },
        headers=lab.admin,
    ).json()
    approved = write(f"/api/v1/contributions/{row['id']}/approve", headers=key_for(Role.OPERATOR))
    assert approved.status_code == 200, approved.text
    assert _sell(sell, 2) == ["sale_recorded"]
    assert _last_split(session)["shares"].get(str(newcomer["id"]), 0) > 0


def test_a_refund_parked_elsewhere_is_applied_by_the_sale(money_lab, seller_and_writer, session):
    sell, write = seller_and_writer
    assert _sell(sell, 1) == ["sale_recorded"]
    body = body_of(stripe_refund("evt_cache_early_refund", "pi_cs_cache_2", amount_refunded=300))
    parked = write("/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert parked.json()["outcomes"] == ["refund_parked"], parked.text
    assert _sell(sell, 2) == ["sale_recorded"]
    session.expire_all()
    assert _line(session, 1).refunded_minor == 300
    assert session.exec(select(ParkedRefund)).one().applied_at is not None


def test_a_cap_reached_through_another_process_stops_the_payback(
    money_lab, seller_and_writer, session
):
    sell, write = seller_and_writer
    lab = money_lab
    factories.capped_funder_equation(
        lab.client, lab.admin, lab.product["id"], lab.funder["id"], payback_percent="50", cap="8.00"
    )
    assert _sell(sell, 1) == ["sale_recorded"]
    assert _last_split(session)["shares"][str(lab.funder["id"])] == 500
    assert _sell(write, 2) == ["sale_recorded"]  # pays the last 3.00 of the cap
    assert _sell(sell, 3) == ["sale_recorded"]
    assert str(lab.funder["id"]) not in _last_split(session)["shares"]
    assert lab.balances("EUR")[lab.funder["id"]] == 800
