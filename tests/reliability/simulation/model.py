"""What the simulation sent and what the books must therefore say, kept apart from the service."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Order:
    """One shop order as the model knows it: a single line, known SKU or not."""

    provider: str
    key: str
    currency: str
    gross: int
    fee: int
    allocated: bool
    refunded: int = 0
    held: bool = False
    refund_ids: list[str] = field(default_factory=list)

    @property
    def distributed(self) -> int:
        """What its split still gives contributors: the net less the refunds taken from it."""
        if not self.allocated:
            return 0
        net = self.gross - self.fee
        return net - min(self.refunded, net)

    def refund(self, amount: int) -> None:
        """A refund never takes more than the sale (the service caps it the same way)."""
        self.refunded = min(self.gross, self.refunded + amount)


@dataclass
class Model:
    """Expected device events, rejects, shop deliveries, orders and payouts."""

    device_events: set[str] = field(default_factory=set)
    device_rejects: int = 0
    messages_sent: int = 0
    unknown_scans: int = 0
    deliveries: dict[str, set[str]] = field(default_factory=dict)
    orders: dict[tuple[str, str], Order] = field(default_factory=dict)
    paid: Counter[tuple[int, str]] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)

    def delivered(self, provider: str, *event_ids: str) -> None:
        """Event ids a shop sent; each must be recorded exactly once."""
        self.deliveries.setdefault(provider, set()).update(event_ids)

    def distributed(self, currency: str) -> int:
        """What all contributors together must hold and be owed in a currency, before payouts."""
        return sum(o.distributed for o in self.orders.values() if o.currency == currency)

    def held(self, currency: str) -> int:
        """What must sit on hold for open disputes in a currency."""
        return sum(o.distributed for o in self.orders.values() if o.currency == currency and o.held)

    def paid_in(self, currency: str) -> int:
        """Everything paid out in a currency."""
        return sum(amount for (_c, cur), amount in self.paid.items() if cur == currency)
