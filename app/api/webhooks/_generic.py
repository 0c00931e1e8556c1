"""LabLedger's generic webhook format to ShopEvents (format in `payloads`)."""

from __future__ import annotations

from datetime import datetime

from app.accounting.money import MAX_MINOR
from app.accounting.sales.events import RefundLine, SaleLine, ShopEvent
from app.api.webhooks import _read as r

PROVIDER = "generic"
# Fields renamed to name their unit; a body still using an old name is refused, naming the new one.
_RENAMED = {"amount": "amount_minor", "fees": "fees_minor"}


def _refuse_old_names(data: r.JsonObject, where: str) -> None:
    """A clear error for a field under its old, unit-less name (a clean break, no guessing)."""
    for old, new in _RENAMED.items():
        if old in data:
            r.fail(
                r.at(where, old),
                f"renamed {new!r}: amounts are integers in the currency's minor unit "
                "(2500 = 25.00 EUR)",
            )


def parse_generic(
    event_json: object, *, received_at: datetime | None = None
) -> tuple[ShopEvent, ...]:
    """Normalise one event in LabLedger's generic format."""
    event = r.obj(event_json, "event")
    _refuse_old_names(event, "")
    event_id = r.ident(r.field(event, "id", ""), "id")
    kind = r.field(event, "type", "")
    if kind not in ("sale", "refund"):
        r.fail("type", 'must be "sale" or "refund"')
    order_key = r.ident(r.field(event, "order", ""), "order")
    stamp = event.get("occurred_at")
    occurred_at = r.when(
        None if stamp is None else r.moment(stamp, "occurred_at"), received_at, "occurred_at"
    )
    code = r.currency(r.field(event, "currency", ""), "currency")
    fees = event.get("fees_minor")
    entries = r.items(event, "lines", "")
    reference = r.text(event.get("reference"))
    test = r.flag(event.get("test"))
    if kind == "refund":
        return (
            ShopEvent(
                provider=PROVIDER,
                event_id=event_id,
                kind="refund",
                order_key=order_key,
                occurred_at=occurred_at,
                currency=code,
                amount_minor=r.integer(
                    r.field(event, "amount_minor", ""), "amount_minor", low=1, high=MAX_MINOR
                ),
                refund_lines=tuple(_refund_line(e, f"lines[{i}]") for i, e in enumerate(entries)),
                reference=reference,
                test=test,
            ),
        )
    lines = [_sale_line(entry, f"lines[{i}]") for i, entry in enumerate(entries)]
    given = event.get("amount_minor")
    if not lines and given is None:
        r.fail("lines", "a sale needs lines or an amount")
    total = (
        sum(line.gross_minor for line in lines)
        if given is None
        else r.integer(given, "amount_minor", high=MAX_MINOR)
    )
    return (
        ShopEvent(
            provider=PROVIDER,
            event_id=event_id,
            kind="sale",
            order_key=order_key,
            occurred_at=occurred_at,
            currency=code,
            amount_minor=total,
            lines=r.balanced(lines, total, "amount_minor"),
            fees_minor=None if fees is None else r.integer(fees, "fees_minor", high=MAX_MINOR),
            reference=reference,
            test=test,
        ),
    )


def _sale_line(entry: object, where: str) -> SaleLine:
    """One `lines` entry of a sale; `amount` may be negative (a discount line)."""
    line = r.obj(entry, where)
    _refuse_old_names(line, where)
    return SaleLine(
        sku=r.sku(line.get("sku"), f"{where}.sku"),
        quantity=r.quantity(r.field(line, "quantity", where), f"{where}.quantity"),
        gross_minor=r.integer(
            r.field(line, "amount_minor", where),
            f"{where}.amount_minor",
            low=-MAX_MINOR,
            high=MAX_MINOR,
        ),
        description=r.text(line.get("description")),
    )


def _refund_line(entry: object, where: str) -> RefundLine:
    """One `lines` entry of a refund: which sold line it returns."""
    line = r.obj(entry, where)
    _refuse_old_names(line, where)
    return RefundLine(
        sku=r.sku(line.get("sku"), f"{where}.sku"),
        quantity=r.quantity(r.field(line, "quantity", where), f"{where}.quantity"),
        amount_minor=r.integer(
            r.field(line, "amount_minor", where), f"{where}.amount_minor", high=MAX_MINOR
        ),
        line_ref=r.opt_ident(line, "line", where),
    )
