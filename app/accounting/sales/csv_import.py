"""Sales from a shop's CSV export (shops without webhooks: Tindie, Crowd Supply) as ShopEvents.

LabLedger's layout: a header row, then one row per sold line. Column names
are matched case-insensitively, in any order; unknown columns are ignored.

============  ========  =========================================================
column        required  meaning
============  ========  =========================================================
order         yes       the shop's order number; rows sharing it form one sale
date          yes       when the order was placed: RFC 3339, an ISO 8601 time
                        without zone (read as UTC) or a date (midnight UTC)
currency      yes [1]_  ISO 4217 code
sku           no        empty: the line is unallocated revenue
quantity      yes       whole number, 0 or more
amount_major  yes       the line's total in MAJOR units, a decimal: "25.00" is
                        25 euros (the generic webhook, by contrast, takes minor
                        units: 2500)
fees_major    no        the shop's fees for the whole order in major units: on one
                        row of the order, or the same value on each of its rows
refunded      no        "true"/"yes": the whole line was refunded; "false"/"no"
                        or empty: nothing was; a decimal in major units: that
                        much of the line
description   no        shown beside the line
============  ========  =========================================================

.. [1] unless `default_currency` is given (Tindie sells in USD only).

Tindie's order export names are accepted too: `number` (order), `price_total`
(amount_major), `product` (description), and `total_tindiefee` plus
`total_ccfee`, added together (fees_major); Tindie writes them in major units.
Several columns may feed `fees_major` and are added up. The unit-less names
`amount` and `fees` are refused, naming the column to use instead.

Each order gives a sale (`<order>:sale`) whose lines add up to its total and,
when any line is refunded, one refund (`<order>:refund`) dated like the order,
as the export carries no refund date. A refund that grows after an export has
been imported is not seen again by re-importing: the same event id is a
duplicate. Rows are numbered as a spreadsheet shows them, the header being row 1.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.accounting.money import MAX_MINOR, MoneyError, normalize_currency, to_minor
from app.accounting.sales.events import RefundLine, SaleLine, ShopEvent
from app.errors import InvalidInput

__all__ = ["COLUMN_ALIASES", "SalesCsvError", "parse_sales_csv"]

COLUMN_ALIASES: dict[str, str] = {
    "order": "order",
    "date": "date",
    "currency": "currency",
    "sku": "sku",
    "quantity": "quantity",
    "amount_major": "amount_major",
    "fees_major": "fees_major",
    "refunded": "refunded",
    "description": "description",
    # Tindie
    "number": "order",
    "price_total": "amount_major",
    "product": "description",
    "total_tindiefee": "fees_major",
    "total_ccfee": "fees_major",
}
# Columns renamed to name their unit: refused under the old name, naming the new one.
RENAMED_COLUMNS: dict[str, str] = {"amount": "amount_major", "fees": "fees_major"}
_REQUIRED = ("order", "date", "quantity", "amount_major")
_TRUE = frozenset({"true", "yes", "y"})
_FALSE = frozenset({"", "false", "no", "n"})
_MAX_TEXT = 200
_WHOLE = re.compile(r"[0-9]{1,7}")


class SalesCsvError(InvalidInput, ValueError):
    """A CSV export that cannot be read, naming the row and column at fault."""

    def __init__(self, row: int, column: str | None, why: str) -> None:
        """Build the message from where and why."""
        where = f"row {row}" if column is None else f"row {row}, column {column!r}"
        super().__init__(f"{where}: {why}", {"row": row, "column": column})
        self.row = row
        self.column = column


@dataclass
class _Order:
    """The rows of one order gathered so far."""

    first_row: int
    occurred_at: datetime
    currency: str
    fees: int | None = None
    lines: list[SaleLine] = field(default_factory=list)
    refunds: list[RefundLine] = field(default_factory=list)


def parse_sales_csv(
    text: str, *, provider: str = "csv", default_currency: str | None = None
) -> tuple[ShopEvent, ...]:
    """Read a CSV export into one sale per order and one refund per refunded order."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    last_read = 0  # rows read whole, for the row number of a CSV syntax error
    try:
        header = next(reader, None)
        if header is None:
            raise SalesCsvError(1, None, "the file is empty; expected a header row")
        last_read = 1
        columns = _columns(header, default_currency)
        orders: dict[str, _Order] = {}
        for row_number, row in enumerate(reader, start=2):
            last_read = row_number
            if any(cell.strip() for cell in row):
                _add_row(orders, columns, row, row_number, default_currency)
    except csv.Error as exc:
        raise SalesCsvError(last_read + 1, None, f"not valid CSV ({exc})") from None
    events: list[ShopEvent] = []
    for key, order in orders.items():
        if sum(line.gross_minor for line in order.lines) > MAX_MINOR:
            raise SalesCsvError(
                order.first_row, "amount_major", f"order {key} is too large for the ledger"
            )
        events.append(_sale(provider, key, order))
        if order.refunds:
            events.append(_refund(provider, key, order))
    return tuple(events)


def _columns(header: list[str], default_currency: str | None) -> dict[str, list[int]]:
    """Canonical column name -> the positions feeding it."""
    columns: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        renamed = RENAMED_COLUMNS.get(name.strip().lower())
        if renamed is not None:
            raise SalesCsvError(
                1,
                name.strip(),
                f"renamed {renamed!r}: the column holds a decimal in major units "
                '("25.00" is 25 euros)',
            )
        canonical = COLUMN_ALIASES.get(name.strip().lower())
        if canonical is None:
            continue
        if canonical in columns and canonical != "fees_major":
            raise SalesCsvError(1, name.strip(), f"a second column for {canonical!r}")
        columns.setdefault(canonical, []).append(position)
    needed = _REQUIRED if default_currency is not None else (*_REQUIRED, "currency")
    for name in needed:
        if name not in columns:
            hint = " (or pass a default currency)" if name == "currency" else ""
            raise SalesCsvError(1, name, f"required column is missing{hint}")
    return columns


def _cell(row: list[str], columns: dict[str, list[int]], name: str) -> str:
    """The stripped cell of a single-position column ('' when absent)."""
    positions = columns.get(name, [])
    if not positions or positions[0] >= len(row):
        return ""
    return row[positions[0]].strip()


def _add_row(
    orders: dict[str, _Order],
    columns: dict[str, list[int]],
    row: list[str],
    number: int,
    default_currency: str | None,
) -> None:
    """Fold one data row into its order."""
    key = _cell(row, columns, "order")
    if not key or len(key) > 255 or not key.isprintable():
        raise SalesCsvError(number, "order", "must be a printable order number")
    code_text = _cell(row, columns, "currency") or default_currency or ""
    try:
        code = normalize_currency(code_text)
    except MoneyError as exc:
        raise SalesCsvError(number, "currency", str(exc)) from None
    occurred_at = _date(_cell(row, columns, "date"), number)
    fees = _fees(row, columns, code, number)
    order = orders.get(key)
    if order is None:
        order = orders[key] = _Order(number, occurred_at, code)
    elif order.currency != code or order.occurred_at != occurred_at:
        column = "currency" if order.currency != code else "date"
        raise SalesCsvError(number, column, f"differs from row {order.first_row} of order {key}")
    if fees is not None:
        if order.fees is not None and order.fees != fees:
            raise SalesCsvError(number, "fees_major", f"differs from an earlier row of order {key}")
        order.fees = fees
    quantity_text = _cell(row, columns, "quantity")
    if not _WHOLE.fullmatch(quantity_text):
        raise SalesCsvError(number, "quantity", f"{quantity_text[:20]!r} is not a whole number")
    quantity = int(quantity_text)
    amount = _money(_cell(row, columns, "amount_major"), code, number, "amount_major")
    if amount < 0:
        raise SalesCsvError(number, "amount_major", "a sold line cannot be negative")
    sku = _cell(row, columns, "sku") or None
    if sku is not None and (len(sku) > 255 or not sku.isprintable()):
        raise SalesCsvError(number, "sku", "must be printable and at most 255 characters")
    description = "".join(c for c in _cell(row, columns, "description") if c.isprintable())
    order.lines.append(SaleLine(sku, quantity, amount, description[:_MAX_TEXT]))
    refunded = _refunded(_cell(row, columns, "refunded"), amount, code, number)
    if refunded:
        whole = refunded == amount
        order.refunds.append(RefundLine(sku, quantity if whole else 0, refunded, f"row {number}"))


def _date(value: str, number: int) -> datetime:
    """The order date; a zone-less one is read as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if len(value) <= 64 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise SalesCsvError(number, "date", f"{value[:40]!r} is not an ISO 8601 date or time")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _money(value: str, code: str, number: int, column: str) -> int:
    """A decimal cell in minor units."""
    try:
        return to_minor(value, code)
    except MoneyError as exc:
        raise SalesCsvError(number, column, str(exc)) from None


def _fees(row: list[str], columns: dict[str, list[int]], code: str, number: int) -> int | None:
    """The order's fees on this row: the sum of the fee columns, None when all are blank."""
    cells = [
        row[p].strip() for p in columns.get("fees_major", []) if p < len(row) and row[p].strip()
    ]
    if not cells:
        return None
    total = sum(_money(cell, code, number, "fees_major") for cell in cells)
    if total < 0:
        raise SalesCsvError(number, "fees_major", "fees cannot be negative")
    return total


def _refunded(value: str, amount: int, code: str, number: int) -> int:
    """How much of the line was refunded."""
    word = value.lower()
    if word in _FALSE:
        return 0
    if word in _TRUE:
        return amount
    refunded = _money(value, code, number, "refunded")
    if not 0 <= refunded <= amount:
        raise SalesCsvError(number, "refunded", "must be between 0 and the line's amount")
    return refunded


def _sale(provider: str, key: str, order: _Order) -> ShopEvent:
    """The order's sale."""
    return ShopEvent(
        provider=provider,
        event_id=f"{key}:sale",
        kind="sale",
        order_key=key,
        occurred_at=order.occurred_at,
        currency=order.currency,
        amount_minor=sum(line.gross_minor for line in order.lines),
        lines=tuple(order.lines),
        fees_minor=order.fees,
        reference=f"order {key}",
    )


def _refund(provider: str, key: str, order: _Order) -> ShopEvent:
    """The order's refunded lines as one refund."""
    return ShopEvent(
        provider=provider,
        event_id=f"{key}:refund",
        kind="refund",
        order_key=key,
        occurred_at=order.occurred_at,
        currency=order.currency,
        amount_minor=sum(line.amount_minor for line in order.refunds),
        refund_lines=tuple(order.refunds),
        reference=f"order {key}",
    )
