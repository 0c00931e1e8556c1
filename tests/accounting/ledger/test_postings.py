"""The ledger: balanced appends only, a hash chain that shows tampering, serialised writers."""

from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, insert, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from app.accounting.ledger import chain as ledger_chain
from app.accounting.ledger import postings as ledger
from app.accounting.ledger import tables as ledger_models
from app.accounting.ledger.chain import entry_hash, rfc3339
from app.accounting.ledger.postings import (
    GENESIS_HASH,
    LedgerError,
    Posting,
    account_balances,
    export_lines,
    head_hash,
    post_transaction,
    verify_chain,
)
from app.accounting.ledger.tables import LedgerEntry
from app.errors import InvalidInput
from tests.databases import allow_ledger_writes, restore_ledger_guard

ROOT = Path(__file__).resolve().parents[3]
SALE = [
    Posting("shop:stripe", "EUR", 2410),
    Posting("fees:stripe", "EUR", 90),
    Posting("sales:product:7", "EUR", -2500),
]


def post(session, postings=SALE, **fields):
    """Post and commit one transaction; its id."""
    fields = {"kind": "sale", "reference": "sale:1", **fields}
    transaction_id = post_transaction(session, postings=postings, **fields)
    session.commit()
    return transaction_id


def entries(session):
    return session.exec(select(LedgerEntry).order_by(col(LedgerEntry.sequence))).all()


def count(session):
    return session.exec(select(func.count()).select_from(LedgerEntry)).one()


def tamper(session, sql, **params):
    """Change the ledger behind the application's back (past the guard triggers)."""
    allow_ledger_writes(session)
    session.execute(text(sql), params)
    restore_ledger_guard(session)
    session.commit()


# --- appending ----------------------------------------------------------------


def test_a_balanced_transaction_becomes_one_linked_entry_per_posting(session):
    at = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    transaction_id = post(session, reference="sale:12:line:3", memo="Order #12", occurred_at=at)

    rows = entries(session)
    assert [row.sequence for row in rows] == [1, 2, 3]
    assert {row.transaction_id for row in rows} == {transaction_id}
    assert [(row.account, row.currency, row.amount_minor) for row in rows] == [
        ("shop:stripe", "EUR", 2410),
        ("fees:stripe", "EUR", 90),
        ("sales:product:7", "EUR", -2500),
    ]
    assert {(row.kind, row.reference, row.memo) for row in rows} == {
        ("sale", "sale:12:line:3", "Order #12")
    }
    assert all(row.occurred_at == at for row in rows)
    assert rows[0].prev_hash == GENESIS_HASH
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert head_hash(session) == rows[-1].hash


def test_occurred_at_defaults_to_the_time_of_recording(session):
    post(session)
    row = entries(session)[0]
    assert row.occurred_at == row.recorded_at
    assert abs(datetime.now(UTC) - row.recorded_at) < timedelta(minutes=1)


def test_currency_codes_are_stored_upper_case(session):
    post(session, [Posting("shop:stripe", "eur", 5), Posting("sales:unallocated", "Eur", -5)])
    assert {row.currency for row in entries(session)} == {"EUR"}


def test_posting_does_not_commit_the_callers_transaction(session):
    post_transaction(session, kind="sale", reference="sale:1", postings=SALE)
    session.rollback()
    assert count(session) == 0
    post(session)
    assert [row.sequence for row in entries(session)] == [1, 2, 3]


def test_each_currency_balances_on_its_own(session):
    post(
        session,
        [
            Posting("shop:stripe", "EUR", 1000),
            Posting("sales:product:1", "EUR", -1000),
            Posting("shop:stripe", "JPY", 500),
            Posting("sales:product:1", "JPY", -500),
        ],
    )
    assert count(session) == 4
    with pytest.raises(LedgerError, match="each currency") as refused:
        post_transaction(
            session,
            kind="sale",
            reference="sale:2",
            postings=[Posting("shop:stripe", "EUR", 100), Posting("sales:product:1", "USD", -100)],
        )
    assert refused.value.details == {"unbalanced": {"EUR": 100, "USD": -100}}
    session.commit()
    assert count(session) == 4


def test_amounts_up_to_two_to_the_62_are_accepted(session):
    post(session, [Posting("a", "EUR", 2**62), Posting("b", "EUR", -(2**62))])
    assert account_balances(session) == {("a", "EUR"): 2**62, ("b", "EUR"): -(2**62)}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"postings": []}, "at least one posting"),
        ({"postings": [Posting("a", "EUR", 0)]}, "must not be 0"),
        ({"postings": [Posting("a", "EUR", 5), Posting("b", "EUR", -4)]}, "sum to zero"),
        (
            {"postings": [Posting("a", "EUR", 2**62 + 1), Posting("b", "EUR", -(2**62) - 1)]},
            "2\\*\\*62",
        ),
        ({"postings": [Posting("a", "EUR", 1.0), Posting("b", "EUR", -1.0)]}, "int"),
        ({"postings": [Posting("a", "EUR", True), Posting("b", "EUR", -1)]}, "int"),
        ({"postings": [Posting("Shop:Stripe", "EUR", 1), Posting("b", "EUR", -1)]}, "account"),
        ({"postings": [Posting("shop stripe", "EUR", 1), Posting("b", "EUR", -1)]}, "account"),
        ({"postings": [Posting("", "EUR", 1), Posting("b", "EUR", -1)]}, "account"),
        ({"postings": [Posting("payable:", "EUR", 1), Posting("b", "EUR", -1)]}, "account"),
        ({"postings": [Posting("a::b", "EUR", 1), Posting("b", "EUR", -1)]}, "account"),
        ({"postings": [Posting("a" * 121, "EUR", 1), Posting("b", "EUR", -1)]}, "longer"),
        ({"postings": [Posting("café", "EUR", 1), Posting("b", "EUR", -1)]}, "account"),
        ({"postings": [Posting("a", "EURO", 1), Posting("b", "EURO", -1)]}, "ISO 4217"),
        ({"postings": [Posting("a", "XXX", 1), Posting("b", "XXX", -1)]}, "ISO 4217"),
        ({"postings": [Posting("a", "ZZZ", 1), Posting("b", "ZZZ", -1)]}, "ISO 4217"),
        ({"postings": [("a", "EUR", 1), ("b", "EUR", -1)]}, "not a Posting"),
        ({"postings": Posting("a", "EUR", 1)}, "list of Posting"),
        ({"kind": ""}, "kind"),
        ({"kind": "Sale"}, "kind"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 301}, "reference"),
        ({"reference": "sale\n1"}, "control"),
        ({"memo": "nul\x00byte"}, "control"),
        ({"memo": "x" * 501}, "memo"),
        ({"memo": "lone \ud800 surrogate"}, "Unicode"),
        ({"occurred_at": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_refused_transactions_write_nothing(session, fields, message):
    arguments = {"kind": "sale", "reference": "sale:1", "postings": SALE, **fields}
    with pytest.raises(LedgerError, match=message) as refused:
        post_transaction(session, **arguments)
    assert isinstance(refused.value, InvalidInput)
    session.commit()
    assert count(session) == 0


# --- the chain ----------------------------------------------------------------


def test_an_empty_ledger_verifies_with_the_genesis_head(session):
    result = verify_chain(session)
    assert result == ledger.VerifyResult(True, 0, GENESIS_HASH, None, None)
    assert head_hash(session) == GENESIS_HASH == "0" * 64


def test_the_chain_verifies_and_its_head_is_the_newest_hash(session):
    for n in range(4):
        post(session, reference=f"sale:{n}", memo="Grüße ✓ \u2028 second line")
    result = verify_chain(session)
    assert result.ok, result
    assert (result.entries, result.head) == (12, entries(session)[-1].hash)
    assert result.first_bad_sequence is None and result.problem is None


def test_each_hash_is_sha256_of_the_documented_canonical_json(session):
    post(session, memo="Grüße")
    row = entries(session)[1]
    content = {
        "sequence": 2,
        "transaction_id": row.transaction_id,
        "kind": "sale",
        "reference": "sale:1",
        "account": "fees:stripe",
        "currency": "EUR",
        "amount_minor": 90,
        "memo": "Grüße",
        "occurred_at": rfc3339(row.occurred_at),
        "prev_hash": entries(session)[0].hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", content["occurred_at"])


_ACCOUNTS = st.from_regex(r"[a-z0-9_.-]{1,8}(:[a-z0-9_.-]{1,8}){0,3}", fullmatch=True)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    transaction_id=_TEXT,
    kind=_TEXT,
    reference=_TEXT,
    memo=_TEXT,
    account=_ACCOUNTS,
    currency=st.from_regex(r"[A-Z]{3}", fullmatch=True),
    amount=st.integers(min_value=-(2**62), max_value=2**62),
    sequence=st.integers(min_value=1, max_value=2**62),
    moment=st.datetimes(timezones=st.just(UTC)),
)
def test_the_transaction_hasher_is_the_canonical_entry_hash(
    transaction_id, kind, reference, memo, account, currency, amount, sequence, moment
):
    occurred = rfc3339(moment)
    prev = hashlib.sha256(memo.encode()).hexdigest()
    content = {
        "sequence": sequence,
        "transaction_id": transaction_id,
        "kind": kind,
        "reference": reference,
        "account": account,
        "currency": currency,
        "amount_minor": amount,
        "memo": memo,
        "occurred_at": occurred,
        "prev_hash": prev,
    }
    hasher = ledger_chain.TransactionHasher(transaction_id, kind, reference, memo, occurred)
    assert hasher(sequence, account, currency, amount, prev) == entry_hash(content)


def test_later_transactions_of_one_db_transaction_chain_on_the_head_it_wrote(session):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        for n in range(3):
            post_transaction(session, kind="sale", reference=f"sale:{n}", postings=SALE)
        session.commit()
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    head_reads = [s for s in statements if "ORDER BY ledger_entry.sequence DESC" in s]
    assert len(head_reads) == 1
    assert verify_chain(session).ok and verify_chain(session).entries == 9
    # A rolled-back savepoint forgets the head it wrote: the next append reads it afresh.
    savepoint = session.begin_nested()
    post_transaction(session, kind="sale", reference="sale:gone", postings=SALE)
    savepoint.rollback()
    post_transaction(session, kind="sale", reference="sale:kept", postings=SALE)
    session.commit()
    result = verify_chain(session)
    assert result.ok and result.entries == 12, result


@pytest.mark.parametrize(
    ("sql", "bad", "good", "problem"),
    [
        ("UPDATE ledger_entry SET amount_minor = 91 WHERE sequence = 5", 5, 4, "hash"),
        ("UPDATE ledger_entry SET memo = 'edited' WHERE sequence = 4", 4, 3, "hash"),
        ("UPDATE ledger_entry SET account = 'payable:9' WHERE sequence = 6", 6, 5, "hash"),
        ("UPDATE ledger_entry SET hash = :forged WHERE sequence = 2", 2, 1, "hash"),
        ("DELETE FROM ledger_entry WHERE sequence = 5", 6, 4, "sequence 6 found where 5"),
        ("DELETE FROM ledger_entry WHERE sequence = 1", 2, 0, "sequence 2 found where 1"),
    ],
)
def test_tampering_in_sql_is_found_at_its_sequence(session, sql, bad, good, problem):
    for n in range(3):
        post(session, reference=f"sale:{n}")
    assert verify_chain(session).ok
    hashes = {row.sequence: row.hash for row in entries(session)}
    tamper(session, sql, forged="f" * 64)

    result = verify_chain(session)
    assert not result.ok
    assert result.first_bad_sequence == bad
    assert problem in result.problem
    assert (result.entries, result.head) == (good, hashes.get(good, GENESIS_HASH))


def test_a_rehashed_edit_still_breaks_the_link_to_the_next_entry(session):
    post(session, reference="sale:1")
    post(session, reference="sale:2")
    row = entries(session)[3]
    content = ledger._content(row.model_dump()) | {"memo": "rewritten"}
    tamper(
        session,
        "UPDATE ledger_entry SET memo = 'rewritten', hash = :digest WHERE sequence = 4",
        digest=entry_hash(content),
    )
    result = verify_chain(session)
    assert (result.ok, result.first_bad_sequence) == (False, 5)
    assert "prev_hash" in result.problem


def test_an_unbalanced_transaction_with_valid_hashes_is_found(session):
    """A forger who recomputes every hash still cannot hide a transaction that does not balance."""
    post(session)
    rows = [row.model_dump() for row in entries(session)]
    rows[1]["amount_minor"] = 91
    for index, row in enumerate(rows):
        row["prev_hash"] = rows[index - 1]["hash"] if index else GENESIS_HASH
        row["hash"] = entry_hash(ledger._content(row))
    tamper(session, "DELETE FROM ledger_entry")
    session.execute(insert(LedgerEntry), rows)
    session.commit()

    result = verify_chain(session)
    assert (result.ok, result.first_bad_sequence, result.entries) == (False, 1, 0)
    assert "does not balance in EUR" in result.problem


def test_entries_cannot_be_updated_or_deleted(session):
    post(session)
    refused = [
        "UPDATE ledger_entry SET memo = 'x' WHERE sequence = 1",
        "DELETE FROM ledger_entry WHERE sequence = 3",
        "DELETE FROM ledger_entry",
    ]
    if session.get_bind().dialect.name == "postgresql":
        refused.append("TRUNCATE ledger_entry")
    for sql in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(sql))
        session.rollback()
    assert count(session) == 3
    if session.get_bind().dialect.name == "postgresql":
        # The allowance is transaction-local: the next transaction is guarded again.
        tamper(session, "UPDATE ledger_entry SET memo = 'x' WHERE sequence = 1")
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("DELETE FROM ledger_entry"))
        session.rollback()
        assert count(session) == 3
    else:
        for module in (ledger, ledger_chain, ledger_models):
            assert sql_writes_in(module) == [], module.__name__


def sql_writes_in(module) -> list[str]:
    """Names and SQL text in `module` (docstrings aside) that speak of UPDATE or DELETE."""
    tree = ast.parse(inspect.getsource(module))
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, documented) and ast.get_docstring(node) is not None
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings and re.search(r"\b(update|delete)\b", node.value, re.I):
                found.append(node.value)
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if re.search("update|delete", name, re.I):
                found.append(name)
    return found


def test_no_ledger_function_sends_update_or_delete(engine, session):
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        post(session)
        account_balances(session, "shop:")
        verify_chain(session)
        list(export_lines(session))
        head_hash(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements
    assert not [s for s in statements if re.match(r"\s*(UPDATE|DELETE)\b", s, re.IGNORECASE)]


# --- balances -----------------------------------------------------------------


def test_balances_are_summed_per_account_and_currency(session):
    post(session)
    post(session, [Posting("shop:stripe", "EUR", 100), Posting("sales:unallocated", "EUR", -100)])
    post(session, [Posting("shop:stripe", "USD", 7), Posting("sales:product:7", "USD", -7)])
    assert account_balances(session) == {
        ("shop:stripe", "EUR"): 2510,
        ("shop:stripe", "USD"): 7,
        ("fees:stripe", "EUR"): 90,
        ("sales:product:7", "EUR"): -2500,
        ("sales:product:7", "USD"): -7,
        ("sales:unallocated", "EUR"): -100,
    }
    assert account_balances(session, "sales:") == {
        ("sales:product:7", "EUR"): -2500,
        ("sales:product:7", "USD"): -7,
        ("sales:unallocated", "EUR"): -100,
    }


def test_a_balance_prefix_is_literal_text(session):
    post(session, [Posting("a_b:1", "EUR", 1), Posting("axb:1", "EUR", -1)])
    assert account_balances(session, "a_b") == {("a_b:1", "EUR"): 1}
    assert account_balances(session, "zzz") == {}
    with pytest.raises(LedgerError, match="prefix"):
        account_balances(session, "A%")


# --- concurrency --------------------------------------------------------------


def test_concurrent_writers_make_one_linear_gap_free_chain(engine, session):
    threads, per_thread = 8, 12
    start = threading.Barrier(threads)
    errors = []

    def write(worker):
        try:
            start.wait()
            with Session(engine) as own:
                for n in range(per_thread):
                    postings = [
                        Posting(f"payable:{worker}", "EUR", -(n + 1)),
                        Posting("shop:stripe", "EUR", n + 1),
                    ]
                    post_transaction(
                        own, kind="sale", reference=f"w{worker}:{n}", postings=postings
                    )
                    own.commit()
        except Exception as exc:  # reported below, with the worker
            errors.append((worker, exc))

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert errors == []

    rows = entries(session)
    assert [row.sequence for row in rows] == list(range(1, threads * per_thread * 2 + 1))
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    runs = [key for key, _group in itertools.groupby(row.transaction_id for row in rows)]
    assert len(runs) == len(set(runs)) == threads * per_thread
    result = verify_chain(session)
    assert result.ok and result.entries == len(rows)


# --- property -----------------------------------------------------------------

ACCOUNTS = ["shop:stripe", "fees:stripe", "sales:product:1", "sales:unallocated", "payable:1"]
_namespaces = itertools.count(1)


@st.composite
def balanced_postings(draw):
    """A balanced list of (account, currency, amount) in one or more currencies."""
    postings = []
    for currency in draw(st.lists(st.sampled_from(["EUR", "USD", "JPY"]), min_size=1, unique=True)):
        amounts = draw(
            st.lists(st.integers(-(10**12), 10**12).filter(bool), min_size=1, max_size=4)
        )
        if sum(amounts):
            amounts.append(-sum(amounts))
        postings += [(draw(st.sampled_from(ACCOUNTS)), currency, amount) for amount in amounts]
    return draw(st.permutations(postings))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(transactions=st.lists(balanced_postings(), min_size=1, max_size=5))
def test_balances_are_the_sums_of_random_balanced_transactions(session, transactions):
    space = f"t{next(_namespaces)}:"
    expected: dict[tuple[str, str], int] = {}
    for n, lines in enumerate(transactions):
        postings = [
            Posting(space + account, currency, amount) for account, currency, amount in lines
        ]
        post(session, postings, reference=f"{space}{n}")
        for posting in postings:
            key = (posting.account, posting.currency)
            expected[key] = expected.get(key, 0) + posting.amount_minor

    assert account_balances(session, space) == expected
    per_currency: dict[str, int] = {}
    for (_account, currency), amount in account_balances(session).items():
        per_currency[currency] = per_currency.get(currency, 0) + amount
    assert set(per_currency.values()) == {0}
    assert verify_chain(session).ok


# --- exports and the documented recipe ----------------------------------------


def recipe() -> str:
    """The stand-alone verification script, as docs/ledger.md gives it."""
    document = (ROOT / "docs" / "ledger.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- verify-recipe -->\s*```python\n(.*?)```", document, re.DOTALL)
    assert found, "docs/ledger.md has lost its verify-recipe block"
    return found.group(1)


def run_recipe(tmp_path, lines):
    script = tmp_path / "verify_ledger.py"
    script.write_text(recipe(), encoding="utf-8")
    export = tmp_path / "ledger.jsonl"
    export.write_text("".join(lines), encoding="utf-8", newline="")
    return subprocess.run(
        [sys.executable, "-I", str(script), str(export)],
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_the_recipe_uses_only_hashlib_json_and_sys():
    imported = {
        alias.name
        for node in ast.walk(ast.parse(recipe()))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported == {"hashlib", "json", "sys"}
    assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(ast.parse(recipe())))


def test_an_export_verifies_with_the_documented_recipe(session, tmp_path):
    post(session, memo='Grüße ✓ \u2028 line separator and "quotes"\n')
    post(session, [Posting("shop:stripe", "JPY", 300), Posting("sales:product:7", "JPY", -300)])
    lines = list(export_lines(session))
    assert len(lines) == 5 and all(line.endswith("\n") for line in lines)
    assert json.loads(lines[0])["sequence"] == 1

    result = run_recipe(tmp_path, lines)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok: 5 entries, head {head_hash(session)}"


def test_the_recipe_detects_a_tampered_export(session, tmp_path):
    post(session)
    post(session, reference="sale:2")
    lines = list(export_lines(session))

    edited = json.loads(lines[3])
    edited["amount_minor"] += 1
    forged = [*lines[:3], json.dumps(edited) + "\n", *lines[4:]]
    result = run_recipe(tmp_path, forged)
    assert result.returncode == 1
    assert "sequence 4" in result.stderr and "hash" in result.stderr

    dropped = run_recipe(tmp_path, lines[:2] + lines[3:])
    assert dropped.returncode == 1
    assert "sequence 3" in dropped.stderr

    unbalanced = []
    prev = GENESIS_HASH
    for line in lines:
        entry = json.loads(line)
        entry.pop("hash")
        if entry["sequence"] == 2:
            entry["amount_minor"] += 1
        entry["prev_hash"] = prev
        prev = entry_hash(entry)
        unbalanced.append(ledger_chain.export_line(entry, prev))
    result = run_recipe(tmp_path, unbalanced)
    assert result.returncode == 1
    assert "unbalanced" in result.stderr


# --- the command line ---------------------------------------------------------


def cli(database_url, *args):
    environment = {**os.environ, "LABLEDGER_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        encoding="utf-8",
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_cli_verify_prints_the_head_then_fails_after_tampering(database_url, session):
    post(session)
    post(session, reference="sale:2")
    verified = cli(database_url, "ledger", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == f"ledger ok: 6 entries, head {head_hash(session)}"

    tamper(session, "UPDATE ledger_entry SET amount_minor = 1 WHERE sequence = 2")
    broken = cli(database_url, "ledger", "verify")
    assert broken.returncode == 1
    assert "sequence 2" in broken.stderr and "hash" in broken.stderr
    assert broken.stdout == ""


def test_cli_export_is_the_export(database_url, session):
    post(session, memo="Grüße")
    exported = cli(database_url, "ledger", "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == "".join(export_lines(session))
