"""The ledger's hash chain: canonical form of an entry, its hash, and checking a run of entries.

Pure functions, no database: `app.accounting.ledger.postings` feeds them rows, and the
recipe in `docs/ledger.md` repeats the same procedure with only hashlib and json.
The procedure itself is described in `app.accounting.ledger.postings`'s docstring.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# prev_hash of the first entry, and the head of an empty ledger.
GENESIS_HASH = "0" * 64

# The fields an entry's hash covers (everything but the hash itself).
CONTENT_FIELDS = (
    "sequence",
    "transaction_id",
    "kind",
    "reference",
    "account",
    "currency",
    "amount_minor",
    "memo",
    "occurred_at",
    "prev_hash",
)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of checking the chain; on failure, where it first breaks and why.

    `entries` counts the entries found good before the first problem (all of
    them when `ok`), and `head` is the hash of the last of those.
    """

    ok: bool
    entries: int
    head: str
    first_bad_sequence: int | None
    problem: str | None


def rfc3339(moment: datetime) -> str:
    """`moment` as RFC 3339 UTC with microseconds, e.g. 2026-01-31T09:05:00.000000Z."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime in the ledger")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(document: Mapping[str, Any]) -> str:
    """The one serialisation hashes are taken over: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 hex of an entry's canonical content."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


class TransactionHasher:
    """Hashes the entries of one transaction with the fields they share serialised once.

    Produces exactly `entry_hash` of the full content (the keys in sorted order are
    account, amount_minor, currency, kind, memo, occurred_at, prev_hash, reference,
    sequence, transaction_id), without building and sorting a dict per entry.
    `account`, `currency` and `prev_hash` must need no JSON escaping, which the
    ledger's validation guarantees (lower-case account names, ISO codes, hex).
    """

    __slots__ = ("_end", "_middle", "_tail")

    def __init__(
        self, transaction_id: str, kind: str, reference: str, memo: str, occurred_at: str
    ) -> None:
        """Serialise what every entry of the transaction shares."""
        self._middle = (
            f',"kind":{_string(kind)},"memo":{_string(memo)},'
            f'"occurred_at":{_string(occurred_at)},"prev_hash":"'
        )
        self._tail = f'","reference":{_string(reference)},"sequence":'
        self._end = f',"transaction_id":{_string(transaction_id)}}}'

    def __call__(self, sequence: int, account: str, currency: str, amount: int, prev: str) -> str:
        """The hash of one entry of the transaction."""
        text = (
            f'{{"account":"{account}","amount_minor":{amount:d},"currency":"{currency}"'
            f"{self._middle}{prev}{self._tail}{sequence:d}{self._end}"
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _string(value: str) -> str:
    """A JSON string exactly as `canonical_json` writes it."""
    return json.dumps(value, ensure_ascii=False)


def export_line(content: Mapping[str, Any], digest: str) -> str:
    """One JSON Lines record: the content plus its hash, canonical, newline-terminated."""
    return canonical_json({**content, "hash": digest}) + "\n"


def check_entries(entries: Iterable[tuple[Mapping[str, Any], str]]) -> VerifyResult:
    """Check (content, hash) pairs in sequence order: links, hashes, gap-free numbering, balance."""
    checker = _Checker()
    for content, digest in entries:
        problem = checker.feed(content, digest)
        if problem is not None:
            return problem
    return checker.finish()


class _Checker:
    """Walks the chain one entry at a time, keeping only the open transaction's sums."""

    def __init__(self) -> None:
        self.head = GENESIS_HASH
        self.good = 0
        self.transaction: str | None = None
        self.sums: dict[str, int] = {}
        # Where the open transaction began, and the chain state just before it.
        self.start = 0
        self.good_before = 0
        self.head_before = GENESIS_HASH

    def feed(self, content: Mapping[str, Any], digest: str) -> VerifyResult | None:
        """Take the next entry; a failed result if it (or the transaction it closes) is bad."""
        sequence = content["sequence"]
        if content["transaction_id"] != self.transaction:
            closed = self._close()
            if closed is not None:
                return closed
            self.transaction, self.sums, self.start = content["transaction_id"], {}, sequence
            self.good_before, self.head_before = self.good, self.head
        expected = self.good + 1
        if sequence != expected:
            return self._bad(sequence, f"sequence {sequence} found where {expected} was expected")
        if content["prev_hash"] != self.head:
            return self._bad(sequence, "prev_hash is not the hash of the entry before")
        if entry_hash(content) != digest:
            return self._bad(sequence, "hash does not match the entry's content")
        if not content["amount_minor"]:
            return self._bad(sequence, "zero amount")
        currency = content["currency"]
        self.sums[currency] = self.sums.get(currency, 0) + content["amount_minor"]
        self.head = digest
        self.good += 1
        return None

    def finish(self) -> VerifyResult:
        """The result once every entry has been fed."""
        closed = self._close()
        if closed is not None:
            return closed
        return VerifyResult(True, self.good, self.head, None, None)

    def _close(self) -> VerifyResult | None:
        """Check that the open transaction sums to zero in each currency."""
        unbalanced = sorted(currency for currency, total in self.sums.items() if total)
        if self.transaction is None or not unbalanced:
            return None
        currency = unbalanced[0]
        return VerifyResult(
            False,
            self.good_before,
            self.head_before,
            self.start,
            f"transaction {self.transaction} does not balance in {currency} "
            f"(sums to {self.sums[currency]})",
        )

    def _bad(self, sequence: int, problem: str) -> VerifyResult:
        """A failed result at `sequence`."""
        return VerifyResult(False, self.good, self.head, sequence, problem)
