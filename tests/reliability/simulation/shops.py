"""Shop deliveries (Stripe, Shopify, WooCommerce, generic) signed with each shop's real scheme.

Each builder returns the delivery and the event ids the service must record
for it; the caller updates the model's orders once the delivery is accepted.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from tests.reliability.simulation.model import Order
from tests.shops import (
    body_of,
    generic_headers,
    shopify_headers,
    stripe_checkout,
    stripe_headers,
    stripe_refund,
    woo_headers,
)

SKU = "SIM-BOARD"
UNKNOWN_SKU = "SIM-UNLISTED"
PROVIDERS = ("stripe", "shopify", "woocommerce", "generic")


@dataclass(frozen=True)
class Delivery:
    """One signed POST and the event ids it carries."""

    provider: str
    body: bytes
    headers: dict[str, str]
    event_ids: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/webhooks/{self.provider}"


def _decimal(minor: int) -> str:
    """A EUR amount as the shops write it."""
    return f"{minor // 100}.{minor % 100:02d}"


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Shops:
    """Makes sales, refunds and disputes for random orders."""

    def __init__(self, rng: random.Random, run: str) -> None:
        self.rng = rng
        self.run = run
        self.counter = 0
        self.woo_refunds: dict[str, list[tuple[str, int]]] = {}

    def _n(self) -> int:
        self.counter += 1
        return self.counter

    def sale(self) -> tuple[Delivery, Order]:
        """A one-line sale at a random shop; some lines name a SKU no product has."""
        provider = self.rng.choice(PROVIDERS)
        currency = "JPY" if provider == "generic" and self.rng.random() < 0.3 else "EUR"
        gross = self.rng.randint(100, 50_000)
        fee = 0 if provider == "shopify" else self.rng.choice([0, self.rng.randint(1, gross // 10)])
        allocated = self.rng.random() < 0.85
        sku = SKU if allocated else UNKNOWN_SKU
        n = self._n()
        if provider == "stripe":
            key = f"pi_{self.run}_{n}"
            line = {"sku": sku, "quantity": 1, "amount": gross}
            event = stripe_checkout(
                f"evt_{self.run}_{n}", f"cs_{self.run}_{n}", [line], fees=fee, payment_intent=key
            )
            body = body_of(event)
            delivery = Delivery(provider, body, stripe_headers(body), (event["id"],))
        elif provider == "shopify":
            key = str(10**9 + n)
            order = {
                "id": int(key),
                "name": f"#{n}",
                "currency": "EUR",
                "total_price": _decimal(gross),
                "financial_status": "paid",
                "created_at": _now_iso(),
                "line_items": [{"sku": sku, "quantity": 1, "price": _decimal(gross), "title": "x"}],
            }
            body = body_of(order)
            headers = shopify_headers(body, "orders/paid", f"sh-{self.run}-{n}")
            delivery = Delivery(provider, body, headers, (f"orders/paid:{key}",))
        elif provider == "woocommerce":
            key = f"{self.run}{n}"
            body = body_of(self._woo_order(key, gross, fee, sku, []))
            headers = woo_headers(body, "order.updated")
            delivery = Delivery(provider, body, headers, (f"{key}:sale",))
        else:
            key = f"order-{self.run}-{n}"
            event = {
                "id": f"g-{self.run}-{n}",
                "type": "sale",
                "order": key,
                "currency": currency,
                "occurred_at": _now_iso(),
                "lines": [{"sku": sku, "quantity": 1, "amount_minor": gross}],
                "fees_minor": fee,
            }
            body = body_of(event)
            delivery = Delivery(provider, body, generic_headers(body), (event["id"],))
        return delivery, Order(provider, key, currency, gross, fee, allocated)

    def _woo_order(
        self, key: str, gross: int, fee: int, sku: str, refunds: list[tuple[str, int]]
    ) -> dict[str, object]:
        """The whole order, as WooCommerce sends it on every update."""
        meta = [{"id": 1, "key": "_stripe_fee", "value": _decimal(fee)}] if fee else []
        return {
            "id": int(key) if key.isdigit() else key,
            "status": "completed",
            "currency": "EUR",
            "total": _decimal(gross),
            "number": key,
            "line_items": [{"sku": sku, "quantity": 1, "total": _decimal(gross), "name": "x"}],
            "meta_data": meta,
            "refunds": [{"id": rid, "total": f"-{_decimal(amount)}"} for rid, amount in refunds],
        }

    def refund(self, order: Order) -> tuple[Delivery, int]:
        """A refund of part or all of what is left (sometimes more than is left)."""
        left = order.gross - order.refunded
        amount = self.rng.choice([left, self.rng.randint(1, max(left, 1)), order.gross])
        amount = max(amount, 1)
        n = self._n()
        if order.provider == "stripe":
            before = order.refunded
            event = stripe_refund(
                f"evt_r_{self.run}_{n}", order.key, min(order.gross, before + amount), before
            )
            body = body_of(event)
            return Delivery("stripe", body, stripe_headers(body), (event["id"],)), amount
        if order.provider == "shopify":
            refund_id = 2 * 10**9 + n
            refund = {
                "id": refund_id,
                "order_id": int(order.key),
                "created_at": _now_iso(),
                "transactions": [
                    {
                        "kind": "refund",
                        "status": "success",
                        "amount": _decimal(amount),
                        "currency": "EUR",
                    }
                ],
                "refund_line_items": [],
            }
            body = body_of(refund)
            headers = shopify_headers(body, "refunds/create", f"shr-{self.run}-{n}")
            return Delivery("shopify", body, headers, (f"refunds/create:{refund_id}",)), amount
        if order.provider == "woocommerce":
            refunds = self.woo_refunds.setdefault(order.key, [])
            refunds.append((str(900_000 + n), amount))
            sku = SKU if order.allocated else UNKNOWN_SKU
            body = body_of(self._woo_order(order.key, order.gross, order.fee, sku, refunds))
            ids = (f"{order.key}:sale", *(f"{order.key}:refund:{rid}" for rid, _ in refunds))
            return Delivery("woocommerce", body, woo_headers(body, "order.updated"), ids), amount
        event = {
            "id": f"gr-{self.run}-{n}",
            "type": "refund",
            "order": order.key,
            "currency": order.currency,
            "occurred_at": _now_iso(),
            "amount_minor": amount,
        }
        body = body_of(event)
        return Delivery("generic", body, generic_headers(body), (event["id"],)), amount

    def dispute(self, order: Order, closing: str | None) -> Delivery:
        """Stripe opens a dispute over the whole charge, or closes it (won or lost)."""
        n = self._n()
        event_id = f"evt_d_{self.run}_{n}"
        dispute = {
            "id": f"dp_{order.key}",
            "object": "dispute",
            "amount": order.gross,
            "currency": "eur",
            "payment_intent": order.key,
            "status": closing or "needs_response",
        }
        event = {
            "id": event_id,
            "object": "event",
            "type": "charge.dispute.closed" if closing else "charge.dispute.created",
            "created": int(time.time()),
            "data": {"object": dispute},
        }
        body = body_of(event)
        ids = (f"{event_id}:release", f"{event_id}:refund") if closing == "lost" else (event_id,)
        return Delivery("stripe", body, stripe_headers(body), ids)


def resigned(delivery: Delivery) -> Delivery:
    """The same delivery signed again now (Stripe's and the generic scheme's stamps expire)."""
    if delivery.provider == "stripe":
        return Delivery("stripe", delivery.body, stripe_headers(delivery.body), delivery.event_ids)
    if delivery.provider == "generic":
        headers = generic_headers(delivery.body)
        return Delivery("generic", delivery.body, headers, delivery.event_ids)
    return delivery
