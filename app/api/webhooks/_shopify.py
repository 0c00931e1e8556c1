"""Shopify order and refund webhooks to ShopEvents (conventions in `payloads`)."""

from __future__ import annotations

from datetime import datetime

from app.accounting.sales.events import RefundLine, SaleLine, ShopEvent
from app.api.webhooks import _read as r

PROVIDER = "shopify"
_SALE_TOPICS = ("orders/paid", "orders/create")
# orders/create counts only once the money is in: these statuses all follow a full payment.
_PAID_STATUSES = ("paid", "partially_refunded", "refunded")
_FAILED_TRANSACTIONS = ("failure", "error")


def parse_shopify(
    topic: str, body_json: object, *, received_at: datetime | None = None
) -> tuple[ShopEvent, ...]:
    """Normalise one Shopify delivery (`X-Shopify-Topic` and the signed body).

    The dedupe key is `<topic>:<the body's own id>` (the order's id, the
    refund's id): Shopify's HMAC covers the body only, so `X-Shopify-Event-Id`,
    an unsigned header, could be changed on a replay and is never the key.
    """
    body = r.obj(body_json, "body")
    if not isinstance(topic, str):
        r.fail("X-Shopify-Topic", "must be a string")
    own_id = r.ident(r.field(body, "id", ""), "id")
    event_id = f"{topic}:{own_id}"
    stamp = body.get("processed_at") or body.get("created_at")
    found = None if stamp is None else r.moment(stamp, "created_at")
    occurred_at = r.when(found, received_at, "created_at", required=False)
    test = body.get("test") is True
    if topic in _SALE_TOPICS:
        status = body.get("financial_status")
        if topic == "orders/paid" or status in _PAID_STATUSES:
            return (_sale(body, event_id, own_id, r.when(found, received_at, "created_at"), test),)
        reference = f"orders/create with financial_status {r.text(status, 32)!r}"
    elif topic == "refunds/create":
        return (_refund(body, event_id, own_id, r.when(found, received_at, "created_at")),)
    else:
        reference = topic
    return (
        ShopEvent(
            provider=PROVIDER,
            event_id=event_id,
            kind="ignored",
            order_key="",
            occurred_at=occurred_at,
            currency="",
            amount_minor=0,
            reference=r.text(reference),
            test=test,
        ),
    )


def _shop_money(data: r.JsonObject, key: str, code: str, where: str) -> int:
    """`<key>_set.shop_money.amount` when given, else `<key>` (also in shop currency)."""
    money_set = data.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        shop_money = r.obj(money_set["shop_money"], f"{where}.{key}_set.shop_money")
        given = shop_money.get("currency_code")
        if given is not None and r.currency(given, f"{where}.{key}_set") != code:
            r.fail(f"{where}.{key}_set.shop_money.currency_code", f"is not the shop's {code}")
        amount = r.field(shop_money, "amount", f"{where}.{key}_set.shop_money")
        return r.decimal_money(amount, code, f"{where}.{key}_set.shop_money.amount")
    return r.decimal_money(r.field(data, key, where), code, r.at(where, key))


def _sale(
    order: r.JsonObject, event_id: str, order_id: str, occurred_at: datetime, test: bool
) -> ShopEvent:
    """An order as a sale: line price x quantity, less discounts and included tax."""
    code = r.currency(r.field(order, "currency", ""), "currency")
    total = _shop_money(order, "total_price", code, "")
    taxes_included = order.get("taxes_included") is True
    lines = []
    for index, entry in enumerate(r.items(order, "line_items", "")):
        where = f"line_items[{index}]"
        line = r.obj(entry, where)
        quantity = r.quantity(r.field(line, "quantity", where), f"{where}.quantity")
        gross = _shop_money(line, "price", code, where) * quantity
        allocations = r.items(line, "discount_allocations", where)
        if allocations:
            for number, allocation in enumerate(allocations):
                spot = f"{where}.discount_allocations[{number}]"
                gross -= _shop_money(r.obj(allocation, spot), "amount", code, spot)
        elif line.get("total_discount") is not None:
            gross -= _shop_money(line, "total_discount", code, where)
        if taxes_included:
            for number, tax in enumerate(r.items(line, "tax_lines", where)):
                spot = f"{where}.tax_lines[{number}]"
                gross -= _shop_money(r.obj(tax, spot), "price", code, spot)
        lines.append(
            SaleLine(
                sku=r.sku(line.get("sku"), f"{where}.sku"),
                quantity=quantity,
                gross_minor=gross,
                description=r.text(line.get("title") or line.get("name")),
            )
        )
    return ShopEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind="sale",
        order_key=order_id,
        occurred_at=occurred_at,
        currency=code,
        amount_minor=total,
        lines=r.balanced(lines, total, "total_price"),
        fees_minor=None,  # Shopify reports no processing fees on orders
        reference=r.text(order.get("name")) or order_id,
        test=test,
    )


def _refund(
    refund: r.JsonObject, event_id: str, refund_id: str, occurred_at: datetime
) -> ShopEvent:
    """A refund: the successful `refund` transactions, and the lines it names."""
    order_key = r.ident(r.field(refund, "order_id", ""), "order_id")
    code: str | None = None
    amount = 0
    for index, entry in enumerate(r.items(refund, "transactions", "")):
        where = f"transactions[{index}]"
        transaction = r.obj(entry, where)
        if transaction.get("kind") != "refund" or transaction.get("status") in _FAILED_TRANSACTIONS:
            continue
        this_code, this_amount = _transaction_money(transaction, where)
        if code is not None and this_code != code:
            r.fail(f"{where}.currency", "refund transactions in more than one currency")
        code = this_code
        amount = r.bounded(amount + this_amount, "transactions")
    lines = []
    for index, entry in enumerate(r.items(refund, "refund_line_items", "")):
        where = f"refund_line_items[{index}]"
        item = r.obj(entry, where)
        sold = item.get("line_item")
        sold_line = r.obj(sold, f"{where}.line_item") if sold is not None else {}
        lines.append(
            RefundLine(
                sku=r.sku(sold_line.get("sku"), f"{where}.line_item.sku"),
                quantity=r.quantity(r.field(item, "quantity", where), f"{where}.quantity"),
                amount_minor=0 if code is None else _line_subtotal(item, code, where),
                line_ref=r.opt_ident(item, "line_item_id", where),
            )
        )
    if code is None or amount <= 0:
        return ShopEvent(
            provider=PROVIDER,
            event_id=event_id,
            kind="ignored",
            order_key="",
            occurred_at=occurred_at,
            currency="",
            amount_minor=0,
            reference=r.text(f"refund {refund_id} returned no money (restock or note only)"),
        )
    return ShopEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind="refund",
        order_key=order_key,
        occurred_at=occurred_at,
        currency=code,
        amount_minor=amount,
        refund_lines=tuple(lines),
        reference=f"refund {refund_id}",
    )


def _transaction_money(transaction: r.JsonObject, where: str) -> tuple[str, int]:
    """A refund transaction's currency and amount, in shop money when Shopify gives it.

    Without `amount_set`, `amount` is in the transaction's own `currency`,
    which in a multi-currency shop may be the customer's (presentment) one.
    """
    money_set = transaction.get("amount_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        spot = f"{where}.amount_set.shop_money"
        shop_money = r.obj(money_set["shop_money"], spot)
        code = r.currency(r.field(shop_money, "currency_code", spot), f"{spot}.currency_code")
        return code, r.decimal_money(r.field(shop_money, "amount", spot), code, f"{spot}.amount")
    code = r.currency(r.field(transaction, "currency", where), f"{where}.currency")
    return code, r.decimal_money(r.field(transaction, "amount", where), code, f"{where}.amount")


def _line_subtotal(item: r.JsonObject, code: str, where: str) -> int:
    """A refunded line's subtotal in the refund's currency; 0 when not given in it."""
    money_set = item.get("subtotal_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        spot = f"{where}.subtotal_set.shop_money"
        shop_money = r.obj(money_set["shop_money"], spot)
        given = shop_money.get("currency_code")
        if given is not None and r.currency(given, f"{spot}.currency_code") != code:
            return 0
        return r.decimal_money(r.field(shop_money, "amount", spot), code, f"{spot}.amount")
    if item.get("subtotal") is None:
        return 0
    return r.decimal_money(item["subtotal"], code, f"{where}.subtotal")
