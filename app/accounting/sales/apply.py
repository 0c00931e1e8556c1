"""Turning normalised shop events into sales, splits, refunds and holds, exactly once.

Every event is applied under the books' lock (`ledger.locks`), taken before
anything is read, so concurrent deliveries in several service processes apply
one after the other: a refund sees every refund before it and can never take
more than the sale. Every event is recorded under (provider, event id) in the
caller's transaction, so a duplicate delivery changes nothing; a second event for an order already
recorded (Shopify's orders/create then orders/paid) is the same sale. A refund
that arrives before its sale is parked and applied when the sale lands.
Lines are matched to products by SKU; an unmatched line stays as unallocated
revenue until an operator allocates it. Shop fees are spread over the lines in
proportion to their gross amounts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from app.accounting.engine.allocation import allocate_largest_remainder
from app.accounting.ledger.locks import lock_books
from app.accounting.ledger.postings import BOOKS_LOCKED_KEY, Posting, post_transaction
from app.accounting.money import normalize_currency
from app.accounting.sales.catalogue import default_record, product_of_sku
from app.accounting.sales.events import ShopEvent, event_from_json, event_to_json
from app.accounting.sales.line_splits import (
    line_reference,
    payable_account,
    reverse_line,
    sales_account,
    split_line,
)
from app.accounting.sales.rows import (
    NewLine,
    NewSale,
    insert_line,
    insert_row,
    insert_sale,
    insert_values,
)
from app.accounting.sales.tables import (
    ParkedRefund,
    Sale,
    SaleLine,
    Split,
    SplitShare,
    WebhookDelivery,
)
from app.db import utcnow
from app.errors import Conflict, NotFound


def _record_delivery(db: Session, event: ShopEvent, outcome: str, sale_id: int | None) -> None:
    """Keep the normalised event (no secrets, no raw payload) so the books can be replayed."""
    insert_values(
        db,
        WebhookDelivery,
        {
            "provider": event.provider,
            "event_id": event.event_id[:200],
            "kind": event.kind,
            "order_key": event.order_key[:200],
            "outcome": outcome,
            "sale_id": sale_id,
            "event": event_to_json(event),
            "received_at": utcnow(),
        },
    )


# The statements every sale runs, built once (building one costs as much as running it).
_RECORDED = select(col(WebhookDelivery.id)).where(
    col(WebhookDelivery.provider) == bindparam("provider"),
    col(WebhookDelivery.event_id) == bindparam("event_id"),
)
_SALE_OF_ORDER = (
    select(Sale)
    .where(col(Sale.provider) == bindparam("provider"), col(Sale.order_key) == bindparam("order"))
    .execution_options(populate_existing=True)
)
_PARKED = (
    col(ParkedRefund.provider) == bindparam("provider"),
    col(ParkedRefund.order_key) == bindparam("order"),
    col(ParkedRefund.applied_at).is_(None),
)
_PARKED_FOR_ORDER = select(ParkedRefund).where(*_PARKED).order_by(col(ParkedRefund.id))
# Almost every sale has none: asked on the connection, no entity loading unless there are.
_ANY_PARKED_FOR_ORDER = select(col(ParkedRefund.id)).where(*_PARKED).limit(1)


def already_recorded(db: Session, provider: str, event_id: str) -> bool:
    """Whether this provider event was seen before."""
    # On the connection, not through the ORM: a column read needs no entity loading (and
    # the delivery rows are written by plain INSERTs, so there is nothing to autoflush).
    values = {"provider": provider, "event_id": event_id[:200]}
    found = db.connection().execute(_RECORDED, values).first()
    return found is not None


def _find_sale(db: Session, provider: str, order_key: str) -> Sale | None:
    """The sale of an order, read afresh (the books' lock is held, so this is the newest)."""
    return db.exec(_SALE_OF_ORDER, params={"provider": provider, "order": order_key[:200]}).first()


def apply_shop_event(db: Session, event: ShopEvent) -> str:
    """Apply one event in the caller's transaction, under the books' lock; what it did.

    A redelivery is answered before the lock (a recorded event stays recorded);
    anything that may move money is checked again, and applied, under it.
    """
    locked = bool(db.info.get(BOOKS_LOCKED_KEY))  # e.g. by the delivery before in a batch
    if already_recorded(db, event.provider, event.event_id):
        return "duplicate"
    if not locked:
        lock_books(db)
        if already_recorded(db, event.provider, event.event_id):
            return "duplicate"
    handlers = {
        "sale": _apply_sale,
        "refund": _apply_refund,
        "hold": _apply_hold,
        "release": _apply_release,
    }
    handler = handlers.get(event.kind)
    if handler is None:
        _record_delivery(db, event, "ignored", None)
        return "ignored"
    outcome, sale_id = handler(db, event)
    _record_delivery(db, event, outcome, sale_id)
    return outcome


def _fees_per_line(event: ShopEvent) -> list[int]:
    fees = event.fees_minor or 0
    weights = {i: line.gross_minor for i, line in enumerate(event.lines) if line.gross_minor > 0}
    if not fees or not weights:
        return [0] * len(event.lines)
    allocation = allocate_largest_remainder(fees, weights).shares
    return [allocation.get(i, 0) for i in range(len(event.lines))]


def _apply_sale(db: Session, event: ShopEvent) -> tuple[str, int | None]:
    sale = insert_sale(db, event)
    if sale is None:
        # The order is recorded already (one statement: the insert that clashed).
        existing = _find_sale(db, event.provider, event.order_key)
        return "duplicate_order", existing.id if existing is not None else None
    for position, (line, fee) in enumerate(zip(event.lines, _fees_per_line(event), strict=True)):
        product = product_of_sku(db, line.sku)
        product_id = None if product is None else product.product_id
        row = insert_line(db, sale, position, line, fee, product_id)
        _post_line_sale(db, sale, row)
        if product is not None:
            record = product.record_in_force(
                sale.occurred_at, default_record(db, product.product_id)
            )
            split_line(db, sale, row, sale.occurred_at, record)
    order = {"provider": sale.provider, "order": sale.order_key}
    if db.connection().execute(_ANY_PARKED_FOR_ORDER, order).first() is None:
        return "sale_recorded", sale.id
    # A refund changes the sale: from here on it is the session's own row.
    stored = db.get(Sale, sale.id)
    assert stored is not None
    for parked in db.exec(_PARKED_FOR_ORDER, params=order).all():
        _refund_sale(db, stored, event_from_json(parked.event), f"refund:{parked.event_id}")
        parked.applied_at = datetime.now(UTC)
    return "sale_recorded", sale.id


def _post_line_sale(db: Session, sale: NewSale | Sale, line: NewLine | SaleLine) -> None:
    """Revenue in: the shop owes the net, the fee is an expense, the gross is sales income."""
    if line.gross_minor == 0:
        return
    postings = (
        [Posting(f"shop:{sale.provider}", sale.currency, line.net_minor)] if line.net_minor else []
    )
    if line.fee_minor:
        postings.append(Posting(f"fees:{sale.provider}", sale.currency, line.fee_minor))
    postings.append(Posting(sales_account(line.product_id), sale.currency, -line.gross_minor))
    post_transaction(
        db,
        kind="sale",
        reference=line_reference(sale, line),
        postings=postings,
        occurred_at=sale.occurred_at,
    )


def allocate_line(db: Session, line_id: int, product_id: int) -> SaleLine:
    """Give an unallocated line its product: move its revenue and split it as of the sale.

    Takes the books' lock first, so two allocations of one line (or an allocation
    racing a refund) cannot both act on what each read: the second sees the first.
    """
    lock_books(db)
    line = db.exec(
        select(SaleLine).where(SaleLine.id == line_id).execution_options(populate_existing=True)
    ).first()
    if line is None:
        raise NotFound(f"sale line {line_id} not found")
    if line.product_id is not None:
        raise Conflict(f"line {line.id} is already allocated to product {line.product_id}")
    sale = db.get(Sale, line.sale_id)
    assert sale is not None
    if sale.voided_at is not None:
        raise Conflict(f"line {line.id} belongs to sale {sale.id}, which was voided")
    moved = line.gross_minor - _net_refunded(line)
    if moved:
        post_transaction(
            db,
            kind="allocation",
            reference=line_reference(sale, line),
            postings=[
                Posting(sales_account(None), sale.currency, moved),
                Posting(sales_account(product_id), sale.currency, -moved),
            ],
        )
    line.product_id = product_id
    line.allocated_at = datetime.now(UTC)
    split_line(db, sale, line, sale.occurred_at)
    if _net_refunded(line):
        reverse_line(
            db, sale, line, _net_refunded(line), datetime.now(UTC), f"allocation-refund:{line.id}"
        )
    return line


def _apply_refund(db: Session, event: ShopEvent) -> tuple[str, int | None]:
    sale = _find_sale(db, event.provider, event.order_key)
    if sale is None:
        # A plain INSERT, not the ORM: the sale's check for parked refunds asks the connection.
        parked = ParkedRefund(
            provider=event.provider,
            order_key=event.order_key[:200],
            event_id=event.event_id[:200],
            event=event_to_json(event),
        )
        insert_row(db, parked)
        return "refund_parked", None
    if sale.voided_at is not None:
        return "sale_voided", sale.id
    if normalize_currency(event.currency) != sale.currency:
        return "refund_currency_mismatch", sale.id
    applied = _refund_sale(db, sale, event, f"refund:{event.event_id}")
    return ("refund_applied" if applied else "refund_exceeds_sale"), sale.id


def _refund_targets(db: Session, sale: Sale, event: ShopEvent) -> dict[int, int]:
    """How much of the refund falls on each line: the lines the shop names, else in proportion."""
    lines = db.exec(
        select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(col(SaleLine.position))
    ).all()
    remaining = {
        line.id: line.gross_minor - line.refunded_minor for line in lines if line.id is not None
    }
    amount = min(event.amount_minor, sum(remaining.values()))
    if amount <= 0:
        return {}
    named: dict[int, int] = {}
    for refund_line in event.refund_lines:
        match = next(
            (
                line
                for line in lines
                if line.sku and line.sku == refund_line.sku and remaining.get(line.id or 0, 0) > 0
            ),
            None,
        )
        if match is not None and match.id is not None:
            named[match.id] = min(
                remaining[match.id], named.get(match.id, 0) + refund_line.amount_minor
            )
    if named and sum(named.values()) == amount:
        return named
    weights = {line_id: Fraction(left) for line_id, left in remaining.items() if left > 0}
    return {k: v for k, v in allocate_largest_remainder(amount, weights).shares.items() if v}


def _refund_sale(db: Session, sale: Sale, event: ShopEvent, reference: str) -> int:
    """Refund across lines (returns the amount applied); a held sale is released around it."""
    targets = _refund_targets(db, sale, event)
    if not targets:
        return 0
    held = sale.held
    if held:
        _move_held(db, sale, False, f"{reference}:unhold", event.occurred_at)
    for line_id, amount in sorted(targets.items()):
        line = db.get(SaleLine, line_id)
        assert line is not None
        _refund_line(
            db, sale, line, amount, event.occurred_at, f"{reference}:{line.position}"[:300]
        )
        sale.refunded_minor += amount
    if held:
        _move_held(db, sale, True, f"{reference}:rehold", event.occurred_at)
    return sum(targets.values())


def _refund_line(
    db: Session, sale: Sale, line: SaleLine, amount: int, at: datetime, reference: str
) -> None:
    """Money back to the customer: the split shrinks by the net left; the shop keeps its fee."""
    net_left = line.net_minor - _net_refunded(line)
    from_net = min(amount, max(net_left, 0))
    fee_part = amount - from_net
    postings = [Posting(f"shop:{sale.provider}", sale.currency, -amount)]
    if from_net:
        postings.append(Posting(sales_account(line.product_id), sale.currency, from_net))
    if fee_part:
        postings.append(Posting(f"fees:{sale.provider}", sale.currency, fee_part))
    post_transaction(
        db, kind="refund", reference=reference[:300], postings=postings, occurred_at=at
    )
    line.refunded_minor += amount
    if line.product_id is not None:
        reverse_line(db, sale, line, from_net, at, reference)


def _net_refunded(line: SaleLine) -> int:
    """Refunds come off the net first; what exceeds it was the shop's fee."""
    return min(line.refunded_minor, line.net_minor)


def _held_shares(db: Session, sale: Sale) -> dict[int, int]:
    """What each recipient currently holds from a sale (its splits net of reversals)."""
    rows = db.exec(
        select(SplitShare.contributor_id, SplitShare.amount_minor)
        .join(Split, col(Split.id) == SplitShare.split_id)
        .join(SaleLine, col(SaleLine.id) == Split.sale_line_id)
        .where(SaleLine.sale_id == sale.id)
    ).all()
    totals: dict[int, int] = {}
    for contributor_id, amount in rows:
        totals[contributor_id] = totals.get(contributor_id, 0) + amount
    return {c: a for c, a in totals.items() if a}


def _move_held(db: Session, sale: Sale, to_held: bool, reference: str, at: datetime) -> None:
    shares = _held_shares(db, sale)
    if not shares:
        return
    sign = 1 if to_held else -1
    postings = []
    for contributor_id, amount in sorted(shares.items()):
        postings.append(Posting(payable_account(contributor_id), sale.currency, sign * amount))
        postings.append(Posting(f"held:{contributor_id}", sale.currency, -sign * amount))
    post_transaction(
        db,
        kind="hold" if to_held else "release",
        reference=reference[:300],
        postings=postings,
        occurred_at=at,
    )


def _apply_hold(db: Session, event: ShopEvent) -> tuple[str, int | None]:
    sale = _find_sale(db, event.provider, event.order_key)
    if sale is None:
        return "dispute_for_unknown_order", None
    if sale.voided_at is not None:
        return "sale_voided", sale.id
    if sale.held:
        return "already_held", sale.id
    _move_held(db, sale, True, f"hold:{event.event_id}", event.occurred_at)
    sale.held = True
    return "held", sale.id


def _apply_release(db: Session, event: ShopEvent) -> tuple[str, int | None]:
    sale = _find_sale(db, event.provider, event.order_key)
    if sale is None or not sale.held:
        return "nothing_held", sale.id if sale else None
    _move_held(db, sale, False, f"release:{event.event_id}", event.occurred_at)
    sale.held = False
    return "released", sale.id
