"""Deliveries that wait for the database are applied together, and a bad one answers alone."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import event
from sqlmodel import col, select

from app.accounting.ledger.postings import verify_chain
from app.accounting.sales.tables import RejectedDelivery, Split
from app.api.webhooks import routes
from app.api.webhooks.payloads import load_json, parse_stripe
from tests.ingest.conftest import eventually
from tests.shops import body_of, stripe_checkout


def _delivery(n: int, amount: int, provider: str | None = None) -> routes._Delivery:
    body = body_of(
        stripe_checkout(
            f"evt_b{n}", f"cs_b{n}", [{"sku": "BOARD-R1", "quantity": 1, "amount": amount}]
        )
    )
    events = parse_stripe(load_json(body), received_at=datetime.now(UTC))
    if provider is not None:
        events = tuple(dataclasses.replace(e, provider=provider) for e in events)
    return routes._Delivery("stripe", body, events)


def _apply_while_held(engine, deliveries):
    """Queue every delivery while the writer's turn is held, then let them through at once."""
    combiner = routes._combiner(engine)
    commits: list[int] = []
    listener = lambda _connection: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        with ThreadPoolExecutor(len(deliveries)) as pool:
            with combiner._turn:
                futures = [pool.submit(combiner.apply, engine, d) for d in deliveries]
                eventually(lambda: len(combiner._queue) == len(deliveries), timeout=30)
            answers = [future.result(timeout=120) for future in futures]
    finally:
        event.remove(engine, "commit", listener)
    return answers, len(commits)


def test_waiting_deliveries_are_applied_in_one_transaction(money_lab, engine):
    deliveries = [_delivery(n, 1000 + n) for n in range(6)]
    answers, commits = _apply_while_held(engine, deliveries)
    assert commits == 1
    outcomes = [json.loads(answer.body) for answer in answers]
    assert outcomes == [{"received": 1, "outcomes": ["sale_recorded"]}] * 6
    assert sum(money_lab.balances("EUR").values()) == sum(1000 + n for n in range(6))
    sales = money_lab.client.get("/api/v1/sales", headers=money_lab.admin).json()
    assert sales["total"] == 6


def test_a_delivery_the_ledger_refuses_does_not_take_its_batch_with_it(money_lab, engine, session):
    # "Bad Shop" is no valid account name ("shop:Bad Shop"): the ledger refuses the sale.
    deliveries = [_delivery(n, 2000 + n) for n in range(3)]
    deliveries.insert(1, _delivery(9, 999, provider="Bad Shop"))
    deliveries.append(_delivery(0, 2000))  # a redelivery of the first, in the same batch
    answers, commits = _apply_while_held(engine, deliveries)
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200, 422, 200, 200, 200]
    outcomes = [json.loads(answer.body).get("outcomes") for answer in answers]
    assert outcomes[0] == outcomes[2] == outcomes[3] == ["sale_recorded"]
    assert outcomes[4] == ["duplicate"]
    assert commits == 5  # the batch rolled back; then each alone (the refusal is recorded)
    assert sum(money_lab.balances("EUR").values()) == sum(2000 + n for n in range(3))
    rejected = session.exec(select(RejectedDelivery)).all()
    assert [r.provider for r in rejected] == ["stripe"]
    assert verify_chain(session).ok


def test_a_burst_from_many_threads_makes_every_sale_once(money_lab, engine, session):
    deliveries = [_delivery(n, 500 + n) for n in range(40)] + [
        _delivery(n, 500 + n) for n in range(10)
    ]
    barrier = threading.Barrier(len(deliveries))
    combiner = routes._combiner(engine)

    def deliver(delivery: routes._Delivery) -> list[str]:
        barrier.wait()
        return json.loads(combiner.apply(engine, delivery).body)["outcomes"]

    with ThreadPoolExecutor(len(deliveries)) as pool:
        outcomes = [o for (o,) in pool.map(deliver, deliveries)]
    assert outcomes.count("sale_recorded") == 40
    assert outcomes.count("duplicate") == 10
    assert sum(money_lab.balances("EUR").values()) == sum(500 + n for n in range(40))
    assert verify_chain(session).ok


def test_a_batch_reads_the_product_carry_once_and_chains_it(money_lab, engine, session):
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if "ORDER BY split.id DESC" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        _answers, commits = _apply_while_held(engine, [_delivery(n, 1001 + n) for n in range(5)])
        assert commits == 1
        assert len(reads) == 1  # the carries after it are the ones this transaction stored
        # The next transaction reads the carry afresh: another process may have split since.
        _apply_while_held(engine, [_delivery(9, 1009)])
        assert len(reads) == 2
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    snapshots = [
        json.loads(row.snapshot)
        for row in session.exec(select(Split).order_by(col(Split.id))).all()
    ]
    assert len(snapshots) == 6
    for before, after in itertools.pairwise(snapshots):
        assert after["carry_before"] == before["carry_after"]
