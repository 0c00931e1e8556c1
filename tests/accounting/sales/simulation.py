"""A seeded simulation of a lab's shop traffic, in the style of TigerBeetle's VOPR.

Random sales (matched and unmatched SKUs, fees, three currencies with different
exponents), refunds (some before their sale), disputes, duplicate and
out-of-order deliveries, concurrent deliveries and payouts; after every step
the books' invariants are checked. A failure names its seed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounting.ledger.postings import account_balances, verify_chain
from app.accounting.payouts.service import balances, create_batch, mark_paid
from app.accounting.payouts.tables import PayoutItem
from app.accounting.sales.apply import apply_shop_event
from app.accounting.sales.events import SaleLine as ShopLine
from app.accounting.sales.events import ShopEvent
from app.accounting.sales.tables import SaleLine, Split, SplitShare, WebhookDelivery
from app.errors import Conflict

CURRENCIES = ("EUR", "JPY", "KWD")
START = datetime(2026, 6, 1, tzinfo=UTC)


class Simulation:
    """Drives random shop events into the database and checks invariants after each."""

    def __init__(self, engine: Engine, seed: int, skus: list[str], payouts: bool = True) -> None:
        self.engine = engine
        self.seed = seed
        self.rng = random.Random(seed)
        self.skus = [*skus, "UNKNOWN-SKU"]
        self.payouts = payouts
        self.sent: list[ShopEvent] = []
        self.orders: dict[str, tuple[str, int]] = {}
        self.refunded: dict[str, int] = {}
        self.disputed: set[str] = set()
        self.clock = START
        self.counter = 0

    def _tick(self) -> datetime:
        self.clock += timedelta(minutes=self.rng.randint(1, 90))
        return self.clock

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.seed}-{self.counter}"

    def deliver(self, event: ShopEvent) -> str:
        with Session(self.engine) as db:
            try:
                outcome = apply_shop_event(db, event)
                db.commit()
            except IntegrityError:
                db.rollback()
                outcome = "duplicate"
        self.sent.append(event)
        return outcome

    def step(self) -> str:
        choice = self.rng.random()
        if choice < 0.4 or not self.orders:
            return self._sale()
        if choice < 0.55:
            return self._refund()
        if choice < 0.65:
            return self._early_refund()
        if choice < 0.75 and self.sent:
            return self.deliver(self.rng.choice(self.sent))
        if choice < 0.83:
            return self._dispute()
        if choice < 0.9:
            return self._concurrent()
        return self._payout() if self.payouts else self._sale()

    def _sale_event(self, order: str | None = None) -> ShopEvent:
        currency = self.rng.choice(CURRENCIES)
        lines = tuple(
            ShopLine(
                sku=self.rng.choice(self.skus),
                quantity=self.rng.randint(1, 3),
                gross_minor=self.rng.randint(1, 50_000),
            )
            for _ in range(self.rng.randint(1, 3))
        )
        total = sum(line.gross_minor for line in lines)
        fees = self.rng.choice([None, 0, self.rng.randint(0, total // 10)])
        order = order or self._id("order")
        self.orders[order] = (currency, total)
        return ShopEvent(
            provider="generic",
            event_id=self._id("sale"),
            kind="sale",
            order_key=order,
            occurred_at=self._tick(),
            currency=currency,
            amount_minor=total,
            lines=lines,
            fees_minor=fees,
        )

    def _sale(self) -> str:
        return self.deliver(self._sale_event())

    def _refund_event(self, order: str, currency: str, amount: int) -> ShopEvent:
        return ShopEvent(
            provider="generic",
            event_id=self._id("refund"),
            kind="refund",
            order_key=order,
            occurred_at=self._tick(),
            currency=currency,
            amount_minor=amount,
        )

    def _refund(self) -> str:
        order = self.rng.choice(sorted(self.orders))
        currency, total = self.orders[order]
        left = total - self.refunded.get(order, 0)
        if left <= 0:
            return self._sale()
        amount = self.rng.choice([left, self.rng.randint(1, left)])
        self.refunded[order] = self.refunded.get(order, 0) + amount
        return self.deliver(self._refund_event(order, currency, amount))

    def _early_refund(self) -> str:
        order = self._id("order")
        sale = self._sale_event(order)
        amount = self.rng.randint(1, sale.amount_minor)
        self.refunded[order] = amount
        first = self.deliver(self._refund_event(order, sale.currency, amount))
        second = self.deliver(sale)
        return f"{first}+{second}"

    def _dispute(self) -> str:
        order = self.rng.choice(sorted(self.orders))
        currency, total = self.orders[order]
        kind = "release" if order in self.disputed else "hold"
        self.disputed.symmetric_difference_update({order})
        return self.deliver(
            ShopEvent(
                provider="generic",
                event_id=self._id(kind),
                kind=kind,
                order_key=order,
                occurred_at=self._tick(),
                currency=currency,
                amount_minor=total,
            )
        )

    def _concurrent(self) -> str:
        event = self._sale_event()
        outcomes: list[str] = []

        def send() -> None:
            outcomes.append(self.deliver(event))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes).count("sale_recorded") == 1, (self.seed, outcomes)
        return "concurrent"

    def _payout(self) -> str:
        currency = self.rng.choice(CURRENCIES)
        with Session(self.engine) as db:
            try:
                batch = create_batch(db, currency, 1, "simulation")
                db.commit()
                mark_paid(db, batch.id)
                db.commit()
            except Conflict:
                db.rollback()
                return "no_payout"
        return "payout"


def check_invariants(engine: Engine, seed: int, where: str) -> None:
    """The books' invariants; an AssertionError names the seed and the step."""
    tag = f"seed={seed} {where}"
    with Session(engine) as db:
        verdict = verify_chain(db)
        assert verdict.ok, (
            f"{tag}: ledger chain broken: {verdict.problem} at {verdict.first_bad_sequence}"
        )
        totals: dict[str, int] = {}
        for (_account, currency), amount in account_balances(db).items():
            totals[currency] = totals.get(currency, 0) + amount
        assert all(v == 0 for v in totals.values()), f"{tag}: postings do not sum to zero: {totals}"
        duplicates = db.exec(
            select(WebhookDelivery.provider, WebhookDelivery.event_id, func.count())
            .group_by(col(WebhookDelivery.provider), col(WebhookDelivery.event_id))
            .having(func.count() > 1)
        ).all()
        assert not duplicates, f"{tag}: an event id recorded twice: {duplicates}"
        shares: dict[tuple[int, str], int] = {}
        for contributor_id, currency, amount in db.exec(
            select(SplitShare.contributor_id, Split.currency, SplitShare.amount_minor).join(
                Split, col(Split.id) == SplitShare.split_id
            )
        ).all():
            shares[(contributor_id, currency)] = shares.get((contributor_id, currency), 0) + amount
        paid = _paid(db)
        for balance in balances(db):
            key = (balance.contributor_id, balance.currency)
            expected = shares.get(key, 0) - paid.get(key, 0)
            assert balance.owed_minor + balance.held_minor == expected, (
                f"{tag}: balance of {key} is not the sum of its postings"
            )
        for line in db.exec(select(SaleLine)).all():
            split_total = db.exec(
                select(func.coalesce(func.sum(Split.amount_minor), 0)).where(
                    Split.sale_line_id == line.id
                )
            ).one()
            if line.product_id is not None:
                assert split_total == line.net_minor - min(line.refunded_minor, line.net_minor), (
                    f"{tag}: line {line.id} split {split_total} != net left"
                )


def _paid(db: Session) -> dict[tuple[int, str], int]:
    from app.accounting.payouts.tables import PayoutBatch

    paid: dict[tuple[int, str], int] = {}
    for item, batch in db.exec(
        select(PayoutItem, PayoutBatch)
        .join(PayoutBatch, col(PayoutBatch.id) == PayoutItem.batch_id)
        .where(PayoutBatch.status == "paid")
    ).all():
        key = (item.contributor_id, batch.currency)
        paid[key] = paid.get(key, 0) + item.amount_minor
    return paid


def run(
    engine: Engine,
    seed: int,
    steps: int,
    skus: list[str],
    payouts: bool = True,
    after: Callable[[int], None] | None = None,
) -> Simulation:
    """Run `steps` random steps, checking the invariants after each."""
    simulation = Simulation(engine, seed, skus, payouts)
    for n in range(steps):
        outcome = simulation.step()
        check_invariants(engine, seed, f"step {n} ({outcome})")
        if after:
            after(n)
    return simulation
