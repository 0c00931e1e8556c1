"""The append-only, double-entry, hash-chained ledger: the one place money is recorded.

A transaction is a list of postings (account, currency, signed amount in minor
units: + debit, - credit) that sums to zero in each currency. Each posting is
one `ledger_entry` row. Rows are only ever appended: no code path updates or
deletes one, and on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE.
Corrections are new transactions.

Accounts are named by lower-case segments joined by ":" (`shop:stripe`,
`fees:stripe`, `sales:product:7`, `sales:unallocated`, `payable:12`,
`payouts:eur`): 1 to 120 characters from `a-z 0-9 _ . - :`, no empty segment.
An account holds a separate balance per currency: balances are keyed by
(account, currency).

The hash chain
--------------
Entries are numbered 1, 2, 3, ... with no gaps (`sequence`). The content of
entry n is the JSON object with exactly these keys:

    sequence        int, n
    transaction_id  str, the same for every posting of one transaction
    kind            str, e.g. "sale", "refund", "payout"
    reference       str, what the transaction is about, e.g. "sale:12:line:3"
    account         str
    currency        str, ISO 4217, upper case
    amount_minor    int, signed, never 0
    memo            str, possibly empty
    occurred_at     str, RFC 3339 UTC with microseconds: "2026-01-31T09:05:00.000000Z"
    prev_hash       str, the hash of entry n-1; for entry 1, 64 zeros (GENESIS_HASH)

The row also keeps `recorded_at` (when it was written), outside the hashed
content, and the transaction id is derived from the previous hash, the kind
and the reference: replaying the same events into an empty ledger therefore
reproduces the same chain and the same head.

An entry's hash is the lower-case hex SHA-256 of the UTF-8 bytes of
`json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
An export line is that same canonical JSON of the content with one more key,
`hash`. To verify an export: read the lines in order; for each, remove `hash`,
check that `sequence` is one more than the line before (1 for the first), that
`prev_hash` equals the previous line's `hash` (64 zeros for the first), and
that the SHA-256 of the canonical JSON of what remains equals the removed
`hash`; finally check that the amounts of each transaction_id sum to zero per
currency. The last hash is the head; publishing it (`GET /api/v1/ledger/head`
needs no key) lets anyone holding a later export see that the history they
saw was not rewritten. `docs/ledger.md` has this as a short stand-alone script.

Appends are serialised so that the chain never forks: on PostgreSQL by a
transaction-scoped advisory lock taken before the head is read; on SQLite by
taking the database's write lock (a write that inserts nothing) before the
head is read. The primary key on `sequence` refuses any duplicate that slips
past either.

Errors::

    LedgerError (app.errors.InvalidInput, 422)   a transaction the ledger refuses
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Row, event, func, select, text
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col

from app.accounting.ledger.bulk import bind_value, insert_many
from app.accounting.ledger.chain import (
    GENESIS_HASH,
    TransactionHasher,
    VerifyResult,
    check_entries,
    export_line,
    rfc3339,
)
from app.accounting.ledger.tables import (
    ACCOUNT_LENGTH,
    KIND_LENGTH,
    MEMO_LENGTH,
    REFERENCE_LENGTH,
    LedgerEntry,
)
from app.accounting.money import MAX_MINOR, MoneyError, normalize_currency
from app.db import utcnow
from app.errors import InvalidInput

#: A transaction can have thousands of postings in one currency: check each code once.
_normalized_currency = functools.lru_cache(maxsize=512)(normalize_currency)

__all__ = [
    "GENESIS_HASH",
    "MAX_AMOUNT",
    "MAX_POSTINGS",
    "ChainHead",
    "LedgerError",
    "Posting",
    "VerifyResult",
    "account_balances",
    "chain_head",
    "export_lines",
    "head_hash",
    "post_transaction",
    "verify_chain",
    "verify_held_head",
]

MAX_AMOUNT: Final = MAX_MINOR
# Balances are summed as high and low halves of each amount (`account_balances`).
_HALF: Final = 2**32
MAX_POSTINGS: Final = 10_000

# Key of the PostgreSQL advisory lock that serialises appends: b"ledger" as an integer.
APPEND_LOCK_KEY: Final = int.from_bytes(b"ledger", "big")

_ACCOUNT = re.compile(r"[a-z0-9_.-]+(?::[a-z0-9_.-]+)*")
_ACCOUNT_PREFIX = re.compile(r"[a-z0-9_.:-]*")
_KIND = re.compile(r"[a-z0-9_.:-]+")
_STREAM_BATCH = 1000
_TRANSACTION_NAMESPACE = uuid.UUID("6f1c2b1e-7a53-4d0e-9a57-4c1e9b0f2d11")

_COLUMNS = (
    col(LedgerEntry.sequence),
    col(LedgerEntry.transaction_id),
    col(LedgerEntry.kind),
    col(LedgerEntry.reference),
    col(LedgerEntry.account),
    col(LedgerEntry.currency),
    col(LedgerEntry.amount_minor),
    col(LedgerEntry.memo),
    col(LedgerEntry.occurred_at),
    col(LedgerEntry.recorded_at),
    col(LedgerEntry.prev_hash),
    col(LedgerEntry.hash),
)


#: The columns `post_transaction` writes, in the order of its row tuples.
_INSERT_COLUMNS: Final = (
    "sequence",
    "transaction_id",
    "kind",
    "reference",
    "account",
    "currency",
    "amount_minor",
    "memo",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
)
#: Where a session keeps the head its open transaction appended (see `_claim_head`).
_HEAD_KEY: Final = "labledger.ledger_head"
#: Set by `ledger.locks.lock_books` while the session's transaction holds the books' lock.
BOOKS_LOCKED_KEY: Final = "labledger.books_locked"


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_head(session: OrmSession, transaction: SessionTransaction) -> None:
    """A commit, rollback or savepoint's end: the next append claims lock and head afresh.

    (A savepoint rolled back on PostgreSQL also gives back the locks taken inside it.)
    The inner transactions a flush opens and closes change neither.
    """
    if transaction.parent is None or transaction.nested:
        session.info.pop(_HEAD_KEY, None)
        session.info.pop(BOOKS_LOCKED_KEY, None)


class LedgerError(InvalidInput):
    """A transaction the ledger refuses (unbalanced, zero or oversized amounts, bad names)."""


@dataclass(frozen=True)
class Posting:
    """One line of a transaction: `amount_minor` is + for a debit, - for a credit, never 0."""

    account: str
    currency: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest entry's sequence and hash (0 and GENESIS_HASH for an empty ledger)."""

    sequence: int
    hash: str


def post_transaction(
    db: Session,
    *,
    kind: str,
    reference: str,
    postings: Sequence[Posting],
    memo: str = "",
    occurred_at: datetime | None = None,
) -> str:
    """Append one balanced transaction in the caller's DB transaction (no commit); its id."""
    kind = _checked_kind(kind)
    reference = _checked_text("reference", reference, 1, REFERENCE_LENGTH, multiline=False)
    memo = _checked_text("memo", memo, 0, MEMO_LENGTH, multiline=True)
    lines = _checked_postings(postings)
    recorded_at = utcnow()
    occurred = recorded_at if occurred_at is None else _checked_moment(occurred_at)
    head = _claim_head(db)
    sequence, prev_hash = head.sequence, head.hash
    transaction_id = str(uuid.uuid5(_TRANSACTION_NAMESPACE, f"{prev_hash}:{kind}:{reference}"))
    hasher = TransactionHasher(transaction_id, kind, reference, memo, rfc3339(occurred))
    table = LedgerEntry.__table__  # type: ignore[attr-defined]
    occurred_bound = bind_value(db, table, "occurred_at", occurred)
    recorded_bound = bind_value(db, table, "recorded_at", recorded_at)
    rows: list[tuple[Any, ...]] = []
    for posting in lines:
        sequence += 1
        account, currency, amount = posting.account, posting.currency, posting.amount_minor
        digest = hasher(sequence, account, currency, amount, prev_hash)
        rows.append(
            (
                sequence,
                transaction_id,
                kind,
                reference,
                account,
                currency,
                amount,
                memo,
                occurred_bound,
                recorded_bound,
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
    insert_many(db, table, _INSERT_COLUMNS, rows)
    db.info[_HEAD_KEY] = ChainHead(sequence, prev_hash)
    return transaction_id


def account_balances(db: Session, prefix: str | None = None) -> dict[tuple[str, str], int]:
    """Sum of postings per (account, currency), for accounts starting with `prefix` if given.

    The database adds up each amount's high and low 32-bit halves separately
    (|high| <= 2**30, |low| < 2**32), and Python joins them: exact for any
    number of entries below 2**31 per account, where one SUM of amounts up to
    2**62 would overflow SQLite's 64-bit integer after two entries.
    """
    amount = col(LedgerEntry.amount_minor)
    high = func.sum(amount // _HALF)  # SQL integer division: truncates on both databases
    low = func.sum(amount % _HALF)  # the remainder keeps the amount's sign on both
    query = select(col(LedgerEntry.account), col(LedgerEntry.currency), high, low).group_by(
        col(LedgerEntry.account), col(LedgerEntry.currency)
    )
    if prefix:
        if not isinstance(prefix, str) or not _ACCOUNT_PREFIX.fullmatch(prefix):
            raise LedgerError(f"account prefix {str(prefix)[:40]!r} cannot start any account name")
        query = query.where(col(LedgerEntry.account).startswith(prefix, autoescape=True))
    return {
        (account, currency): int(high_sum) * _HALF + int(low_sum)
        for account, currency, high_sum, low_sum in db.execute(query)
    }


def chain_head(db: Session) -> ChainHead:
    """The newest entry's sequence number (= number of entries) and hash."""
    query = (
        select(col(LedgerEntry.sequence), col(LedgerEntry.hash))
        .order_by(col(LedgerEntry.sequence).desc())
        .limit(1)
    )
    row = db.execute(query).first()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(int(row[0]), str(row[1]))


def head_hash(db: Session) -> str:
    """The newest entry's hash, or GENESIS_HASH (64 zeros) when the ledger is empty."""
    return chain_head(db).hash


def verify_chain(db: Session) -> VerifyResult:
    """Recompute every hash, link, sequence number and per-transaction zero sum."""
    return check_entries((_content(row._mapping), row.hash) for row in _stream(db))


def verify_held_head(db: Session, held_head: str, held_sequence: int | None = None) -> VerifyResult:
    """Verify the chain, and that it still passes through a head a reader saw earlier.

    A reader who noted the head (and ideally its sequence) holds the database to it:
    truncation leaves fewer entries than the held sequence, and a rewrite with
    recomputed hashes changes the hash at that sequence. Either fails here.
    """
    result = verify_chain(db)
    if not result.ok:
        return result
    held_head = held_head.strip().lower()
    if held_sequence is None:
        found = db.execute(
            select(col(LedgerEntry.sequence)).where(col(LedgerEntry.hash) == held_head)
        ).first()
        if found is not None or held_head == GENESIS_HASH:
            return result
        problem = (
            f"head {held_head[:16]}... is not in the chain: history was truncated or rewritten"
        )
        return VerifyResult(False, result.entries, result.head, None, problem)
    if held_sequence == 0:
        if held_head == GENESIS_HASH:
            return result
        return VerifyResult(False, result.entries, result.head, 0, "sequence 0 is the empty ledger")
    if held_sequence > result.entries:
        problem = (
            f"the ledger has {result.entries} entries, fewer than the {held_sequence} "
            "of the head you hold: it was truncated"
        )
        return VerifyResult(False, result.entries, result.head, held_sequence, problem)
    stored = db.execute(
        select(col(LedgerEntry.hash)).where(col(LedgerEntry.sequence) == held_sequence)
    ).scalar_one()
    if stored != held_head:
        problem = (
            f"entry {held_sequence} has another hash than the head you hold: history was rewritten"
        )
        return VerifyResult(False, result.entries, result.head, held_sequence, problem)
    return result


def export_lines(db: Session) -> Iterator[str]:
    """Every entry as a canonical JSON line (newline-terminated), in sequence order."""
    for row in _stream(db):
        yield export_line(_content(row._mapping), row.hash)


def _stream(db: Session) -> Iterator[Row[Any]]:
    """All entries in sequence order, fetched in batches."""
    query = select(*_COLUMNS).order_by(col(LedgerEntry.sequence))
    yield from db.execute(query.execution_options(yield_per=_STREAM_BATCH))


def _content(row: Any) -> dict[str, Any]:
    """The hashed content of an entry (a row mapping or a dict of its columns)."""
    return {
        "sequence": int(row["sequence"]),
        "transaction_id": row["transaction_id"],
        "kind": row["kind"],
        "reference": row["reference"],
        "account": row["account"],
        "currency": row["currency"],
        "amount_minor": int(row["amount_minor"]),
        "memo": row["memo"],
        "occurred_at": rfc3339(row["occurred_at"]),
        "prev_hash": row["prev_hash"],
    }


def _claim_head(db: Session) -> ChainHead:
    """Take the append lock, then read the head: no other writer can move it until we commit.

    Once this transaction has appended, it holds the lock and knows the head it wrote
    (kept in the session until the transaction, or a savepoint, ends), so a sale's
    second and later transactions take neither the lock nor the head again.
    """
    known = db.info.get(_HEAD_KEY)
    if isinstance(known, ChainHead):
        return known
    dialect = db.get_bind().dialect.name
    if db.info.get(BOOKS_LOCKED_KEY):
        pass  # `lock_books` took this very lock earlier in the transaction
    elif dialect == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    elif dialect == "sqlite":
        # A write that inserts nothing still takes SQLite's single write lock, held to commit,
        # so the head read below is the newest and stays so (what BEGIN IMMEDIATE would do).
        db.execute(text("INSERT INTO ledger_entry (sequence) SELECT 0 WHERE 0"))
    return chain_head(db)


def _checked_postings(postings: Sequence[Posting]) -> list[Posting]:
    """Validated, normalised postings that sum to zero per currency."""
    if isinstance(postings, Posting) or not isinstance(postings, Sequence):
        raise LedgerError("postings must be a list of Posting")
    if not postings:
        raise LedgerError("a transaction needs at least one posting")
    if len(postings) > MAX_POSTINGS:
        raise LedgerError(f"a transaction has at most {MAX_POSTINGS} postings")
    lines = [_checked_posting(index, posting) for index, posting in enumerate(postings)]
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.currency] = sums.get(line.currency, 0) + line.amount_minor
    unbalanced = {currency: total for currency, total in sorted(sums.items()) if total}
    if unbalanced:
        described = ", ".join(f"{total:+d} {currency}" for currency, total in unbalanced.items())
        raise LedgerError(
            f"postings must sum to zero in each currency; they leave {described}",
            {"unbalanced": unbalanced},
        )
    return lines


def _checked_posting(index: int, posting: Posting) -> Posting:
    """One posting, validated, with its currency upper-cased."""
    where = {"posting": index}
    if not isinstance(posting, Posting):
        raise LedgerError(f"posting {index} is not a Posting", where)
    account = posting.account
    if not isinstance(account, str) or not _account_name(account):
        raise LedgerError(
            f"posting {index}: account {str(account)[:40]!r} must be lower-case segments of "
            "a-z 0-9 _ . - joined by ':'",
            where,
        )
    if len(account) > ACCOUNT_LENGTH:
        raise LedgerError(f"posting {index}: account longer than {ACCOUNT_LENGTH}", where)
    try:
        currency = _normalized_currency(posting.currency)
    except MoneyError as exc:
        raise LedgerError(f"posting {index}: {exc.message}", where) from None
    amount = posting.amount_minor
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LedgerError(
            f"posting {index}: amount_minor must be an int of minor units, "
            f"not {type(amount).__name__}",
            where,
        )
    if amount == 0:
        raise LedgerError(f"posting {index}: amount_minor must not be 0", where)
    if abs(amount) > MAX_AMOUNT:
        raise LedgerError(f"posting {index}: amount_minor beyond +/- 2**62", where)
    if currency == posting.currency and type(amount) is int:
        return posting
    return Posting(account, currency, int(amount))


@functools.lru_cache(maxsize=65_536)
def _account_name(account: str) -> bool:
    """Whether `account` is a valid name (cached: a sale names the same payables again)."""
    return _ACCOUNT.fullmatch(account) is not None


def _checked_kind(kind: str) -> str:
    """A transaction kind: a short lower-case word such as "sale" or "payout"."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind) or len(kind) > KIND_LENGTH:
        raise LedgerError(
            f"kind {str(kind)[:40]!r} must be 1 to {KIND_LENGTH} characters of a-z 0-9 _ . - :"
        )
    return kind


def _checked_text(field: str, value: str, shortest: int, longest: int, *, multiline: bool) -> str:
    """Text both databases store as given: bounded, valid UTF-8, no control characters."""
    if not isinstance(value, str):
        raise LedgerError(f"{field} must be text, not {type(value).__name__}")
    if not shortest <= len(value) <= longest:
        raise LedgerError(f"{field} must be {shortest} to {longest} characters")
    allowed = "\t\n" if multiline else ""
    if any(ord(ch) < 32 and ch not in allowed for ch in value) or "\x7f" in value:
        raise LedgerError(f"{field} must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LedgerError(f"{field} is not valid Unicode text") from None
    return value


def _checked_moment(moment: datetime) -> datetime:
    """An aware datetime, in UTC."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise LedgerError("occurred_at must be a timezone-aware datetime")
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise LedgerError("occurred_at is out of range") from None
