"""The books' lock: every read-check-write on money holds it from its first read to commit.

A refund reads what was refunded before, a split reads the product's carried
remainders and cap progress, a payout reads balances: each then writes what it
read into the ledger. With several service processes on one database, two such
transactions could both read the same state and both write, e.g. refunding a
sale twice over. `lock_books` serialises them across processes:

- PostgreSQL: the ledger's transaction-scoped advisory lock
  (`pg_advisory_xact_lock`), the same one that serialises ledger appends, held
  until commit or rollback. Every money write ends by appending to the ledger
  under that lock anyway, so taking it first costs no parallelism, and it also
  covers checks that no single row stands for (a product's carry, a balance).
  Each statement after it reads the newest committed data (READ COMMITTED).
- SQLite: the database's single write lock, taken by a write that inserts
  nothing as the transaction's first statement (what BEGIN IMMEDIATE does):
  later reads see the newest data and nothing else can write until commit.

Call it before the transaction's first read of anything it will check; objects
already loaded into the session before it may be stale.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from app.accounting.ledger.postings import APPEND_LOCK_KEY, BOOKS_LOCKED_KEY


def lock_books(db: Session) -> None:
    """Take the books' lock in the caller's transaction (held until commit or rollback)."""
    if db.info.get(BOOKS_LOCKED_KEY):
        return
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    elif dialect == "sqlite":
        db.execute(text("INSERT INTO ledger_entry (sequence) SELECT 0 WHERE 0"))
    else:  # pragma: no cover - the settings accept only these two
        raise RuntimeError(f"no lock for database {dialect!r}")
    # Remembered until the transaction ends, so the ledger's own appends need not ask again.
    db.info[BOOKS_LOCKED_KEY] = True
