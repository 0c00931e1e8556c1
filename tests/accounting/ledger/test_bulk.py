"""Many rows through the driver: what goes in comes back, and a clash is SQLAlchemy's error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounting.ledger.bulk import bind_value, insert_many
from app.accounting.ledger.postings import Posting, post_transaction, verify_chain
from app.accounting.ledger.tables import LedgerEntry

TABLE = LedgerEntry.__table__
COLUMNS = ("sequence", "transaction_id", "kind", "reference", "account", "currency")
COLUMNS += ("amount_minor", "memo", "occurred_at", "recorded_at", "prev_hash", "hash")


def _rows(session, first: int, count: int) -> list[tuple]:
    at = bind_value(session, TABLE, "occurred_at", datetime(2026, 3, 1, 12, 30, 1, 5, tzinfo=UTC))
    return [
        (n, "t", "sale", "r\t'\\\"é", f"payable:{n}", "EUR", n - 10**12, "", at, at, "p", f"h{n}")
        for n in range(first, first + count)
    ]


def test_rows_are_stored_as_given(session):
    insert_many(session, TABLE, COLUMNS, _rows(session, 1, 1500))
    stored = session.execute(select(TABLE).order_by(TABLE.c.sequence)).all()
    assert len(stored) == 1500
    first = stored[0]._mapping
    assert first["reference"] == "r\t'\\\"é"
    assert first["amount_minor"] == 1 - 10**12
    assert first["occurred_at"] == datetime(2026, 3, 1, 12, 30, 1, 5, tzinfo=UTC)
    assert [row._mapping["sequence"] for row in stored] == list(range(1, 1501))


def test_a_clash_is_an_integrity_error(session):
    insert_many(session, TABLE, COLUMNS, _rows(session, 1, 3))
    with pytest.raises(IntegrityError):
        insert_many(session, TABLE, COLUMNS, _rows(session, 3, 2))
    session.rollback()


def test_a_thousand_postings_chain_and_verify(session):
    postings = [Posting(f"payable:{n}", "EUR", -(n + 1)) for n in range(1000)]
    postings.append(Posting("sales:product:1", "EUR", sum(n + 1 for n in range(1000))))
    post_transaction(session, kind="split", reference="line:x", postings=postings)
    session.commit()
    result = verify_chain(session)
    assert result.ok and result.entries == 1001, result
