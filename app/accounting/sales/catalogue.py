"""What a sale reads about its product, kept per process behind the product's `updated_at`.

Every sale line used to read its SKU's product and the product's equation in
force: the same rows, sale after sale, until an operator changes them. Here a
process keeps, per SKU, the product it names, every stored version of the
product's equation and the product's `updated_at` as read with them; a sale
then reads only that `updated_at` (one indexed row) and, when it is still
the one kept, uses the rest as it is.

The invariant: every writer of what is kept here sets the product's
`updated_at` to the time of the write, in the same transaction. That is
`products.service` (a SKU list replaced, a rename, a deactivation) and
`equations.versions.add_version` (a new version). A SKU moves between
products only by leaving its old product's list, which changes that product's
`updated_at`; so a kept SKU whose product still has the kept `updated_at`
still names it. A change committed by another process is seen by this
process's next sale, since the version is read from the database every time.
Anything outside these services that writes `product_sku` or `value_equation`
must set `product.updated_at` too.

Not kept: contributions, cap progress, carries and parked refunds, which
change with sales, sessions and refunds; the sale reads those afresh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from app.accounting.equations.versions import (
    DEFAULT_VERSION,
    EquationRecord,
    list_records,
    record_version,
)
from app.accounting.products.tables import Product, ProductSku


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """A product as a sale needs it, and the `updated_at` it was read under."""

    product_id: int
    updated_at: datetime
    #: Every stored equation version, the newest first (versions are never edited).
    records: tuple[EquationRecord, ...]

    def record_in_force(self, at: datetime, default: EquationRecord) -> EquationRecord:
        """The highest version in effect at `at`; `default` when none is."""
        for record in self.records:
            if record.effective_from is not None and record.effective_from <= at:
                return record
        return default


_VERSION = select(col(Product.updated_at)).where(col(Product.id) == bindparam("product_id"))
_OF_SKU = (
    select(col(ProductSku.product_id), col(Product.updated_at))
    .join(Product, col(Product.id) == col(ProductSku.product_id))
    .where(col(ProductSku.sku) == bindparam("sku"))
)

#: Per (database, SKU). Bounded: a shop with more SKUs than this simply reads more.
_kept: dict[tuple[str, str], ProductFacts] = {}
_KEPT_MOST: Final = 10_000
_lock = threading.Lock()


def _database(db: Session) -> str:
    return str(db.get_bind().engine.url)


def product_of_sku(db: Session, sku: str | None) -> ProductFacts | None:
    """The product a SKU names (None: unallocated), read afresh only if it changed.

    One statement when the kept facts still hold (the product's `updated_at`),
    three when they do not (the SKU and version, then the equation versions).
    """
    if not sku:
        return None
    key = (_database(db), sku)
    connection = db.connection()
    kept = _kept.get(key)
    if kept is not None:
        current = connection.execute(_VERSION, {"product_id": kept.product_id}).scalar()
        if current == kept.updated_at:
            return kept
    # The version is read before the equations: a change committed in between leaves
    # an older version kept with newer equations, which the next sale reads again.
    row = connection.execute(_OF_SKU, {"sku": sku}).first()
    if row is None:
        with _lock:
            _kept.pop(key, None)
        return None
    product_id, updated_at = int(row[0]), row[1]
    records = tuple(reversed(list_records(db, product_id)))
    facts = ProductFacts(product_id, updated_at, records)
    with _lock:
        if len(_kept) >= _KEPT_MOST:
            _kept.clear()
        _kept[key] = facts
    return facts


def default_record(db: Session, product_id: int) -> EquationRecord:
    """The built-in equation, in force where no stored version is."""
    return record_version(db, product_id, DEFAULT_VERSION)
