"""What a shop tells the ledger: one typed shape for every shop, money in minor units.

Webhook parsers (`app.api.webhooks.payloads`) and CSV imports
(`app.accounting.sales.csv_import`) both produce `ShopEvent`s, so the accounting code
reads sales the same way whoever sold them.

Keys:

- `(provider, event_id)` identifies one fact; a redelivery repeats it.
- `(provider, order_key)` identifies one order; a second `sale` with the same
  key is the same sale seen again (Shopify sends `orders/create` and then
  `orders/paid`), and refunds and disputes name the sale they belong to by it.
  A refund may arrive before its sale.

Amounts (`amount_minor`) by kind:

- `sale`: what the customer paid in the order's currency, equal to the sum of
  `lines` (a line without a SKU carries shipping, tax and anything else the
  shop did not itemise, so nothing is dropped);
- `refund`: the amount returned to the customer by this refund (> 0);
- `hold` / `release`: the disputed amount withheld / given back (> 0);
- `ignored`: 0, and `order_key` and `currency` are empty; `reference` names
  what was ignored.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from app.accounting.money import check_bound, normalize_currency

EventKind = Literal["sale", "refund", "hold", "release", "ignored"]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))


@dataclass(frozen=True, slots=True)
class SaleLine:
    """One sold line: a SKU (None: unallocated revenue), how many, and its total."""

    sku: str | None
    quantity: int
    gross_minor: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class RefundLine:
    """Which sold line a refund returns, when the shop says so."""

    sku: str | None
    quantity: int
    amount_minor: int
    line_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ShopEvent:
    """A sale, refund, dispute hold or release, or an ignored delivery, from one shop."""

    provider: str
    event_id: str
    kind: EventKind
    order_key: str
    occurred_at: datetime
    currency: str
    amount_minor: int
    lines: tuple[SaleLine, ...] = ()
    fees_minor: int | None = None
    refund_lines: tuple[RefundLine, ...] = ()
    reference: str = ""
    test: bool = False

    def __post_init__(self) -> None:
        """Refuse an event the ledger could not post as it stands."""
        if not self.provider or not self.event_id:
            raise ValueError("a shop event needs a provider and an event id")
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        self._check_bounds()
        if self.kind == "ignored":
            if self.amount_minor or self.lines or self.refund_lines:
                raise ValueError("an ignored event carries no money")
            return
        if not self.order_key:
            raise ValueError(f"a {self.kind} needs an order key")
        if normalize_currency(self.currency) != self.currency:
            raise ValueError("currency must be an upper-case ISO 4217 code")
        if self.fees_minor is not None and self.fees_minor < 0:
            raise ValueError("fees cannot be negative")
        if self.kind == "sale":
            if not self.lines:
                raise ValueError("a sale needs at least one line")
            if self.amount_minor < 0:
                raise ValueError("a sale total cannot be negative")
            if sum(line.gross_minor for line in self.lines) != self.amount_minor:
                raise ValueError("a sale's lines must add up to its total")
            if any(line.quantity < 0 for line in self.lines):
                raise ValueError("a line quantity cannot be negative")
        elif self.amount_minor <= 0:
            raise ValueError(f"a {self.kind} needs a positive amount")

    def _check_bounds(self) -> None:
        """Refuse (AmountError, a 422 recorded as a rejected delivery) amounts past MAX_MINOR."""
        check_bound(self.amount_minor, "amount_minor")
        if self.fees_minor is not None:
            check_bound(self.fees_minor, "fees_minor")
        for line in self.lines:
            check_bound(line.gross_minor, "a line's amount")
        for refund_line in self.refund_lines:
            check_bound(refund_line.amount_minor, "a refund line's amount")

    @property
    def refund_minor(self) -> int:
        """The amount a refund returns; 0 for any other kind."""
        return self.amount_minor if self.kind == "refund" else 0


def event_to_json(event: ShopEvent) -> str:
    """The event as JSON, exactly enough to rebuild it (kept with each delivery for replay).

    The same document as `dataclasses.asdict` gives (with `occurred_at` as ISO text),
    built field by field: every delivery writes one, and `asdict` deep-copies.
    """
    data = {field: getattr(event, field) for field in _EVENT_FIELDS}
    data["occurred_at"] = event.occurred_at.isoformat()
    data["lines"] = [{f: getattr(line, f) for f in _LINE_FIELDS} for line in event.lines]
    data["refund_lines"] = [
        {f: getattr(line, f) for f in _REFUND_LINE_FIELDS} for line in event.refund_lines
    ]
    return json.dumps(data, sort_keys=True)


_EVENT_FIELDS = tuple(field.name for field in dataclasses.fields(ShopEvent))
_LINE_FIELDS = tuple(field.name for field in dataclasses.fields(SaleLine))
_REFUND_LINE_FIELDS = tuple(field.name for field in dataclasses.fields(RefundLine))


def event_from_json(text: str) -> ShopEvent:
    """Rebuild an event stored by `event_to_json`."""
    data = json.loads(text)
    data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
    data["lines"] = tuple(SaleLine(**line) for line in data["lines"])
    data["refund_lines"] = tuple(RefundLine(**line) for line in data["refund_lines"])
    return ShopEvent(**data)
