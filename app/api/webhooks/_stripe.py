"""Stripe events to ShopEvents (conventions in `app.api.webhooks.payloads`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from app.accounting.money import MoneyError, from_shop_minor
from app.accounting.sales.events import SaleLine, ShopEvent
from app.api.webhooks import _read as r
from app.api.webhooks.errors import PayloadInvalid

PROVIDER = "stripe"
_DIGITS = re.compile(r"[0-9]{1,18}")
_UNALLOCATED = "unallocated: the checkout session lists no lines in metadata.lines"
_PAID_SESSION = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def parse_stripe(
    event_json: object, *, received_at: datetime | None = None
) -> tuple[ShopEvent, ...]:
    """Normalise one Stripe event; unknown types come back as one `ignored` event."""
    event = r.obj(event_json, "event")
    event_id = r.ident(r.field(event, "id", ""), "id")
    kind = r.field(event, "type", "")
    if not isinstance(kind, str):
        r.fail("type", "must be a string")
    created = event.get("created")
    found = None if created is None else r.unix_moment(created, "created")
    test = event.get("livemode") is False
    handler = _HANDLERS.get(kind)
    if handler is None:
        lenient = _Base(event_id, r.when(found, received_at, "created", required=False), test=test)
        return (lenient.ignored(kind),)
    base = _Base(event_id, r.when(found, received_at, "created"), test=test)
    data = r.obj(r.field(event, "data", ""), "data")
    return handler(base, r.obj(r.field(data, "object", "data"), "data.object"), data)


class _Base:
    """What every event built from one Stripe event shares."""

    def __init__(self, event_id: str, occurred_at: datetime, *, test: bool) -> None:
        """Keep the event id, time and test flag."""
        self.event_id = event_id
        self.occurred_at = occurred_at
        self.test = test

    def ignored(self, reference: str) -> ShopEvent:
        """An `ignored` event naming what was ignored."""
        return ShopEvent(
            provider=PROVIDER,
            event_id=self.event_id,
            kind="ignored",
            order_key="",
            occurred_at=self.occurred_at,
            currency="",
            amount_minor=0,
            reference=r.text(reference),
            test=self.test,
        )


def _money(value: object, code: str, where: str) -> int:
    """A Stripe integer amount in the ledger's minor unit."""
    amount = r.integer(value, where)
    try:
        return from_shop_minor(amount, code, PROVIDER)
    except MoneyError as exc:
        r.fail(where, str(exc))


def _metadata(o: r.JsonObject, where: str) -> r.JsonObject:
    """The object's metadata (absent or null: empty)."""
    value = o.get("metadata")
    return {} if value is None else r.obj(value, f"{where}.metadata")


def _order_key(o: r.JsonObject, where: str) -> str:
    """The payment intent id, else `metadata.order`, else the object's own id."""
    intent = o.get("payment_intent")
    if isinstance(intent, dict):  # expanded
        intent = intent.get("id")
    if intent is not None and intent != "":
        return r.ident(intent, f"{where}.payment_intent")
    order = r.opt_ident(_metadata(o, where), "order", f"{where}.metadata")
    return order or r.ident(r.field(o, "id", where), f"{where}.id")


def _sale(base: _Base, o: r.JsonObject, _data: r.JsonObject) -> tuple[ShopEvent, ...]:
    """A paid checkout session; lines from `metadata.lines`, else one unallocated line."""
    where = "data.object"
    status = o.get("payment_status")
    if status != "paid":
        return (base.ignored(f"checkout session with payment_status {r.text(status, 32)!r}"),)
    code = r.currency(r.field(o, "currency", where), f"{where}.currency")
    total = _money(r.field(o, "amount_total", where), code, f"{where}.amount_total")
    metadata = _metadata(o, where)
    lines, note = _metadata_lines(metadata.get("lines"), code)
    fees = metadata.get("fees")
    event = ShopEvent(
        provider=PROVIDER,
        event_id=base.event_id,
        kind="sale",
        order_key=_order_key(o, where),
        occurred_at=base.occurred_at,
        currency=code,
        amount_minor=total,
        lines=r.balanced(lines, total, f"{where}.amount_total", note or r.REMAINDER),
        fees_minor=None if fees is None else _fees(fees, code),
        reference=r.ident(r.field(o, "id", where), f"{where}.id"),
        test=base.test,
    )
    return (event,)


def _metadata_lines(raw: object, code: str) -> tuple[list[SaleLine], str | None]:
    """Lines from `metadata.lines`, or none and a note saying why they are unallocated.

    A lab's own metadata that cannot be read must not lose the sale (Stripe
    would redeliver the same bytes for three days), so the whole total is then
    kept as unallocated revenue with the reason in its description.
    """
    if raw is None:
        return [], _UNALLOCATED
    where = "metadata.lines"
    try:
        if not isinstance(raw, str):
            r.fail(where, "must be a JSON text (Stripe metadata values are strings)")
        entries = r.load_json(raw.encode("utf-8", "replace"), where)
        if not isinstance(entries, list) or not entries:
            r.fail(where, "must be a non-empty JSON array")
        lines = []
        for index, entry in enumerate(entries[: r.MAX_ITEMS]):
            item = r.obj(entry, f"{where}[{index}]")
            lines.append(
                SaleLine(
                    sku=r.sku(item.get("sku"), f"{where}[{index}].sku"),
                    quantity=r.quantity(
                        r.field(item, "quantity", f"{where}[{index}]"),
                        f"{where}[{index}].quantity",
                    ),
                    gross_minor=_money(
                        r.field(item, "amount", f"{where}[{index}]"), code, f"{where}[{index}]"
                    ),
                    description=r.text(item.get("description")),
                )
            )
    except PayloadInvalid as exc:
        return [], r.text(f"unallocated: {exc.message}")
    return lines, None


def _fees(raw: object, code: str) -> int:
    """`metadata.fees`: the lab's own record of the fee, an integer string in Stripe units."""
    where = "data.object.metadata.fees"
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw.strip()):
        r.fail(where, "must be a non-negative integer string in the currency's minor unit")
    return _money(int(raw), code, where)


def _refund(base: _Base, o: r.JsonObject, data: r.JsonObject) -> tuple[ShopEvent, ...]:
    """`charge.refunded`: what this refund added to the charge's cumulative `amount_refunded`."""
    where = "data.object"
    code = r.currency(r.field(o, "currency", where), f"{where}.currency")
    refunded = r.integer(r.field(o, "amount_refunded", where), f"{where}.amount_refunded")
    before = 0
    previous = data.get("previous_attributes")
    if isinstance(previous, dict) and previous.get("amount_refunded") is not None:
        before = r.integer(previous["amount_refunded"], "data.previous_attributes.amount_refunded")
    if refunded <= before:
        return (base.ignored("charge.refunded with no new refunded amount"),)
    amount = _money(refunded - before, code, f"{where}.amount_refunded")
    return (_event(base, "refund", base.event_id, o, code, amount),)


def _dispute_created(base: _Base, o: r.JsonObject, _data: r.JsonObject) -> tuple[ShopEvent, ...]:
    """`charge.dispute.created`: hold the disputed amount."""
    code = r.currency(r.field(o, "currency", "data.object"), "data.object.currency")
    amount = _money(r.field(o, "amount", "data.object"), code, "data.object.amount")
    if amount == 0:
        return (base.ignored("charge.dispute.created for no amount"),)
    return (_event(base, "hold", base.event_id, o, code, amount),)


def _dispute_closed(base: _Base, o: r.JsonObject, _data: r.JsonObject) -> tuple[ShopEvent, ...]:
    """`charge.dispute.closed`: release the hold; a lost dispute also refunds the amount."""
    code = r.currency(r.field(o, "currency", "data.object"), "data.object.currency")
    amount = _money(r.field(o, "amount", "data.object"), code, "data.object.amount")
    status = o.get("status")
    if status not in ("won", "lost", "warning_closed"):
        r.fail("data.object.status", "a closed dispute must be won, lost or warning_closed")
    if amount == 0:
        return (base.ignored("charge.dispute.closed for no amount"),)
    if status != "lost":
        return (_event(base, "release", base.event_id, o, code, amount),)
    return (
        _event(base, "release", f"{base.event_id}:release", o, code, amount),
        _event(base, "refund", f"{base.event_id}:refund", o, code, amount),
    )


def _event(
    base: _Base,
    kind: Literal["refund", "hold", "release"],
    event_id: str,
    o: r.JsonObject,
    code: str,
    amount: int,
) -> ShopEvent:
    """A refund, hold or release of `amount` against the object's order."""
    return ShopEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=kind,
        order_key=_order_key(o, "data.object"),
        occurred_at=base.occurred_at,
        currency=code,
        amount_minor=amount,
        reference=r.ident(r.field(o, "id", "data.object"), "data.object.id"),
        test=base.test,
    )


_Handler = Callable[[_Base, r.JsonObject, r.JsonObject], tuple[ShopEvent, ...]]
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(_PAID_SESSION, _sale),
    "charge.refunded": _refund,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}
