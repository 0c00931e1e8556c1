"""Typed reads from parsed JSON that fail as PayloadInvalid naming the field and why."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import NoReturn

from app.accounting.money import MAX_MINOR, MoneyError, normalize_currency, to_minor
from app.accounting.sales.events import SaleLine, ShopEvent
from app.api.webhooks.errors import PayloadInvalid

JsonObject = Mapping[str, object]

# The lengths of the columns these land in (webhook_delivery, sale, sale_line).
MAX_ID = 200
MAX_TEXT = 200
MAX_REFERENCE = 500
MAX_BODY = 1_000_000
# A count past this is not a sale line; it also bounds the work per payload.
MAX_QUANTITY = 1_000_000
MAX_ITEMS = 1000

REMAINDER = "shipping, tax and other charges not itemised"


def fits_columns(events: tuple[ShopEvent, ...]) -> tuple[ShopEvent, ...]:
    """The events, when every id and text fits its column (ids joined from parts may not)."""
    for event in events:
        for name, value, limit in (
            ("event id", event.event_id, MAX_ID),
            ("order id", event.order_key, MAX_ID),
            ("reference", event.reference, MAX_REFERENCE),
        ):
            if len(value) > limit:
                fail(name, f"longer than {limit} characters")
        for line in event.lines:
            if line.sku is not None and len(line.sku) > MAX_ID:
                fail("sku", f"longer than {MAX_ID} characters")
    return events


def fail(where: str, why: str) -> NoReturn:
    """Raise PayloadInvalid for the field `where`."""
    raise PayloadInvalid(f"{where}: {why}")


def load_json(body: bytes, where: str = "body") -> object:
    """Parse a webhook body; JSON numbers with a fraction become Decimal, never float."""
    if len(body) > MAX_BODY:
        fail(where, f"larger than {MAX_BODY} bytes")
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        fail(where, "not valid UTF-8 JSON (NaN and Infinity are not JSON)")


def _no_constant(name: str) -> NoReturn:
    """Refuse JSON's non-standard NaN and Infinity."""
    raise ValueError(name)


def obj(value: object, where: str) -> JsonObject:
    """`value` as a JSON object."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        fail(where, "must be a JSON object")
    return value


def field(data: JsonObject, key: str, where: str) -> object:
    """A required member of a JSON object."""
    if key not in data or data[key] is None:
        fail(f"{where}.{key}" if where else key, "missing")
    return data[key]


def at(where: str, key: str) -> str:
    """The dotted path of `key` under `where`."""
    return f"{where}.{key}" if where else key


def items(data: JsonObject, key: str, where: str, *, required: bool = False) -> list[object]:
    """A JSON array member (absent or null: empty unless required)."""
    value = data.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        fail(at(where, key), "must be a JSON array")
    if len(value) > MAX_ITEMS:
        fail(at(where, key), f"more than {MAX_ITEMS} entries")
    return value


def ident(value: object, where: str) -> str:
    """An id: a non-empty string or a non-negative integer, as text."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**30:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= MAX_ID and text.isprintable():
            return text
    fail(where, f"must be a non-empty printable id of at most {MAX_ID} characters")


def opt_ident(data: JsonObject, key: str, where: str) -> str | None:
    """An optional id member (absent, null or empty string: None)."""
    value = data.get(key)
    if value is None or value == "":
        return None
    return ident(value, at(where, key))


def text(value: object, limit: int = MAX_TEXT) -> str:
    """Free text for display: control characters dropped, bounded; non-strings give ''."""
    if not isinstance(value, str):
        return ""
    return "".join(ch if ch.isprintable() else " " for ch in value[: limit * 2]).strip()[:limit]


def sku(value: object, where: str) -> str | None:
    """A SKU (empty or absent: None, the line is unallocated revenue)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return ident(value, where)


def integer(value: object, where: str, *, low: int = 0, high: int = MAX_MINOR) -> int:
    """A JSON integer within [low, high] (booleans and fractions refused); high: MAX_MINOR."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(where, "must be an integer")
    if not low <= value <= high:
        if abs(value) > MAX_MINOR:
            fail(where, f"{value} is beyond the ledger's bound of +/- 2**62 minor units")
        fail(where, f"must be between {low} and {high}")
    return value


def bounded(amount: int, where: str) -> int:
    """An amount computed from several (a sum), refused past the ledger's bound."""
    if abs(amount) > MAX_MINOR:
        fail(where, f"adds up to {amount}, beyond the ledger's bound of +/- 2**62 minor units")
    return amount


def quantity(value: object, where: str) -> int:
    """A line quantity."""
    return integer(value, where, high=MAX_QUANTITY)


def flag(value: object) -> bool:
    """A JSON boolean; anything else is False."""
    return value is True


def currency(value: object, where: str) -> str:
    """An ISO 4217 code in any case, upper-cased."""
    try:
        return normalize_currency(value)
    except MoneyError as exc:
        fail(where, str(exc))


def decimal_money(value: object, code: str, where: str) -> int:
    """A shop's decimal amount ("25.00", or a JSON number read as Decimal) in minor units."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, str | Decimal):
        fail(where, 'must be a decimal amount like "25.00"')
    try:
        return to_minor(value, code)
    except MoneyError as exc:
        fail(where, str(exc))


def moment(value: object, where: str) -> datetime:
    """An RFC 3339 time with a zone offset, in UTC."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    fail(where, "must be an RFC 3339 time with a zone offset")


def utc_naive_moment(value: object, where: str) -> datetime:
    """A zone-less ISO time known to be UTC (WooCommerce's `*_gmt` fields)."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    fail(where, "must be an ISO 8601 time")


def unix_moment(value: object, where: str) -> datetime:
    """A Unix timestamp in seconds, in UTC."""
    seconds = integer(value, where, high=253_402_300_799)  # up to 9999-12-31
    return datetime.fromtimestamp(seconds, tz=UTC)


def when(
    found: datetime | None, received_at: datetime | None, where: str, *, required: bool = True
) -> datetime:
    """The shop's own time, else the receive time (a naive one read as UTC).

    With neither, an event that moves money is refused; one that is ignored
    anyway (`required=False`) is stamped with the current time instead.
    """
    if found is not None:
        return found
    if received_at is None:
        if required:
            fail(where, "missing, and no receive time was given")
        return datetime.now(UTC)
    return received_at.replace(tzinfo=UTC) if received_at.tzinfo is None else received_at


def balanced(
    lines: list[SaleLine], total: int, where: str, rest_description: str = REMAINDER
) -> tuple[SaleLine, ...]:
    """The lines plus, if they fall short of `total`, one unallocated line for the rest.

    A negative rest (lines worth more than the total, e.g. an order-level
    discount the shop did not spread over its lines) is kept the same way, so
    the lines always add up to what the customer paid.
    """
    if total < 0:
        fail(where, "a sale total cannot be negative")
    rest = total - sum(line.gross_minor for line in lines)
    if any(
        abs(amount) > MAX_MINOR for amount in (total, rest, *(line.gross_minor for line in lines))
    ):
        fail(where, "an amount is too large for the ledger")
    if rest or not lines:
        lines = [
            *lines,
            SaleLine(sku=None, quantity=1, gross_minor=rest, description=rest_description),
        ]
    return tuple(lines)
