"""WooCommerce order webhooks to ShopEvents (conventions in `payloads`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from app.accounting.money import MAX_MINOR
from app.accounting.sales.events import SaleLine, ShopEvent
from app.api.webhooks import _read as r
from app.api.webhooks.errors import PayloadInvalid

PROVIDER = "woocommerce"
_PAID_STATUSES = ("processing", "completed", "refunded")
# Order meta where payment plugins record their processing fee, in the order's
# currency unless the plugin says otherwise: WooCommerce Stripe Gateway
# (`_stripe_fee`, with `_stripe_currency` naming the balance currency) and
# WooCommerce PayPal Standard (`PayPal Transaction Fee`).
_FEE_KEYS = ("_stripe_fee", "PayPal Transaction Fee")
_FEE_CURRENCY_KEY = "_stripe_currency"


def parse_woocommerce(
    topic: str | None,
    body_json: object,
    headers: Mapping[str, str] | None = None,
    *,
    received_at: datetime | None = None,
) -> tuple[ShopEvent, ...]:
    """Normalise one WooCommerce delivery into its sale and each refund it lists.

    `topic` is `X-WC-Webhook-Topic`; when None it is read from `headers`.
    """
    if topic is None and headers is not None:
        topic = next((v for k, v in headers.items() if k.lower() == "x-wc-webhook-topic"), None)
    if not isinstance(topic, str) or not topic:
        r.fail("X-WC-Webhook-Topic", "missing")
    order = r.obj(body_json, "body")
    modified = _gmt(order, "date_modified_gmt")
    if not topic.startswith("order.") or topic == "order.deleted":
        own_id = order.get("id")
        label = r.opt_ident(order, "id", "") if isinstance(own_id, str | int) else None
        return (_ignored(f"{topic}:{label or '-'}", topic, modified, received_at),)
    order_id = r.ident(r.field(order, "id", ""), "id")
    status = order.get("status")
    code = r.currency(r.field(order, "currency", ""), "currency")
    events: list[ShopEvent] = []
    if status in _PAID_STATUSES:
        events.append(_sale(order, order_id, code, received_at))
    for index, entry in enumerate(r.items(order, "refunds", "")):
        where = f"refunds[{index}]"
        refund = r.obj(entry, where)
        refund_id = r.ident(r.field(refund, "id", where), f"{where}.id")
        amount = abs(r.decimal_money(r.field(refund, "total", where), code, f"{where}.total"))
        if amount:
            events.append(
                ShopEvent(
                    provider=PROVIDER,
                    event_id=f"{order_id}:refund:{refund_id}",
                    kind="refund",
                    order_key=order_id,
                    occurred_at=r.when(modified, received_at, "date_modified_gmt"),
                    currency=code,
                    amount_minor=amount,
                    reference=f"refund {refund_id}",
                )
            )
    if events:
        return tuple(events)
    stamp = "" if modified is None else modified.isoformat()
    reference = f"order {order_id} with status {r.text(status, 32)!r}"
    return (_ignored(f"{order_id}:{r.text(status, 32)}:{stamp}", reference, modified, received_at),)


def _gmt(order: r.JsonObject, key: str) -> datetime | None:
    """A `*_gmt` time of the order, if present."""
    value = order.get(key)
    return None if value is None or value == "" else r.utc_naive_moment(value, key)


def _ignored(
    event_id: str, reference: str, modified: datetime | None, received_at: datetime | None
) -> ShopEvent:
    """An `ignored` event for a delivery that moves no money."""
    return ShopEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind="ignored",
        order_key="",
        occurred_at=r.when(modified, received_at, "date_modified_gmt", required=False),
        currency="",
        amount_minor=0,
        reference=r.text(reference),
    )


def _sale(order: r.JsonObject, order_id: str, code: str, received_at: datetime | None) -> ShopEvent:
    """The order as a sale: item totals after discounts, fee lines, the rest unallocated."""
    total = r.decimal_money(r.field(order, "total", ""), code, "total")
    lines = []
    for index, entry in enumerate(r.items(order, "line_items", "")):
        where = f"line_items[{index}]"
        line = r.obj(entry, where)
        lines.append(
            SaleLine(
                sku=r.sku(line.get("sku"), f"{where}.sku"),
                quantity=r.quantity(r.field(line, "quantity", where), f"{where}.quantity"),
                gross_minor=r.decimal_money(r.field(line, "total", where), code, f"{where}.total"),
                description=r.text(line.get("name")),
            )
        )
    # fee_lines are surcharges the customer paid (part of `total`), not the
    # shop's costs: revenue without a product.
    for index, entry in enumerate(r.items(order, "fee_lines", "")):
        where = f"fee_lines[{index}]"
        fee = r.obj(entry, where)
        lines.append(
            SaleLine(
                sku=None,
                quantity=1,
                gross_minor=r.decimal_money(r.field(fee, "total", where), code, f"{where}.total"),
                description=r.text(f"fee line: {r.text(fee.get('name'))}"),
            )
        )
    paid = _gmt(order, "date_paid_gmt") or _gmt(order, "date_created_gmt")
    return ShopEvent(
        provider=PROVIDER,
        event_id=f"{order_id}:sale",
        kind="sale",
        order_key=order_id,
        occurred_at=r.when(paid, received_at, "date_paid_gmt"),
        currency=code,
        amount_minor=total,
        lines=r.balanced(lines, total, "total"),
        fees_minor=_processor_fee(order, code),
        reference=r.text(order.get("number")) or order_id,
    )


def _processor_fee(order: r.JsonObject, code: str) -> int | None:
    """The payment plugin's fee from `meta_data`, or None when absent or unreadable.

    It is auxiliary: a sale is never refused because a plugin's note is odd.
    """
    entries = order.get("meta_data")
    if not isinstance(entries, list):
        return None
    meta: dict[str, object] = {}
    for entry in entries[: r.MAX_ITEMS]:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            meta.setdefault(entry["key"], entry.get("value"))
    fee_currency = meta.get(_FEE_CURRENCY_KEY)
    if isinstance(fee_currency, str) and fee_currency.upper() != code:
        return None
    found = [meta[key] for key in _FEE_KEYS if key in meta]
    if not found:
        return None
    try:
        amounts = [r.decimal_money(value, code, "meta_data") for value in found]
    except PayloadInvalid:
        return None
    total = sum(amounts)
    return total if 0 <= total <= MAX_MINOR else None
