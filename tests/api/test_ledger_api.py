"""The ledger over HTTP: keys and roles, the public head, verify, export, entries, balances."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.accounting.ledger.postings import (
    GENESIS_HASH,
    Posting,
    export_lines,
    head_hash,
    post_transaction,
)
from app.api.keys import Role
from tests.databases import allow_ledger_writes, restore_ledger_guard

READ_ROUTES = [
    "/api/v1/ledger/verify",
    "/api/v1/ledger/export",
    "/api/v1/ledger/entries",
    "/api/v1/ledger/balances",
]


def sale(session, reference="sale:1", amount=2500, currency="EUR", product=7):
    """Post and commit one sale of `amount`; its transaction id."""
    transaction_id = post_transaction(
        session,
        kind="sale",
        reference=reference,
        postings=[
            Posting("shop:stripe", currency, amount - 90),
            Posting("fees:stripe", currency, 90),
            Posting(f"sales:product:{product}", currency, -amount),
        ],
    )
    session.commit()
    return transaction_id


@pytest.fixture
def viewer(key_for):
    return key_for(Role.VIEWER)


@pytest.mark.parametrize("path", READ_ROUTES)
def test_ledger_reads_need_a_key(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", READ_ROUTES)
def test_a_device_key_cannot_read_the_ledger(client, key_for, path):
    response = client.get(path, headers=key_for(Role.DEVICE))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_readers_of_every_kind_can_verify(client, key_for, role):
    assert client.get("/api/v1/ledger/verify", headers=key_for(role)).status_code == 200


def test_the_head_is_public(client, session):
    assert client.get("/api/v1/ledger/head").json() == {"head": GENESIS_HASH, "entries": 0}
    sale(session)
    sale(session, reference="sale:2")
    response = client.get("/api/v1/ledger/head")
    assert response.status_code == 200
    assert response.json() == {"head": head_hash(session), "entries": 6}


def test_verify_reports_a_sound_chain_then_where_it_was_tampered(client, session, viewer):
    sale(session)
    sale(session, reference="sale:2")
    assert client.get("/api/v1/ledger/verify", headers=viewer).json() == {
        "ok": True,
        "entries": 6,
        "head": head_hash(session),
        "first_bad_sequence": None,
        "problem": None,
    }
    allow_ledger_writes(session)
    session.execute(text("UPDATE ledger_entry SET reference = 'sale:9' WHERE sequence = 4"))
    restore_ledger_guard(session)
    session.commit()
    body = client.get("/api/v1/ledger/verify", headers=viewer).json()
    assert (body["ok"], body["first_bad_sequence"], body["entries"]) == (False, 4, 3)
    assert "hash" in body["problem"]


def test_export_streams_canonical_json_lines(client, session, viewer):
    sale(session)
    sale(session, reference="sale:2", currency="JPY", amount=300)
    response = client.get("/api/v1/ledger/export", headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text == "".join(export_lines(session))
    lines = response.text.splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert json.loads(lines[-1])["hash"] == client.get("/api/v1/ledger/head").json()["head"]


def test_export_of_an_empty_ledger_is_empty(client, viewer):
    response = client.get("/api/v1/ledger/export", headers=viewer)
    assert (response.status_code, response.text) == (200, "")


def test_entries_are_paged_in_sequence_order(client, session, viewer):
    for n in range(3):
        sale(session, reference=f"sale:{n}")
    body = client.get("/api/v1/ledger/entries?limit=4&offset=2", headers=viewer).json()
    assert (body["total"], body["limit"], body["offset"]) == (9, 4, 2)
    assert [item["sequence"] for item in body["items"]] == [3, 4, 5, 6]
    first = body["items"][0]
    assert set(first) == {
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
    }
    assert first["account"] == "sales:product:7" and first["amount_minor"] == -2500


def test_entries_filter_by_account_prefix_transaction_and_reference(client, session, viewer):
    first = sale(session, reference="sale:1", product=7)
    sale(session, reference="sale:2", product=8)

    def listed(query):
        response = client.get(f"/api/v1/ledger/entries?{query}", headers=viewer)
        assert response.status_code == 200, response.text
        return [(item["sequence"], item["account"]) for item in response.json()["items"]]

    assert listed("account_prefix=sales:") == [(3, "sales:product:7"), (6, "sales:product:8")]
    assert listed("account_prefix=sales:product:8") == [(6, "sales:product:8")]
    assert [seq for seq, _ in listed(f"transaction_id={first}")] == [1, 2, 3]
    assert listed("reference=sale:2&account_prefix=fees") == [(5, "fees:stripe")]
    assert listed("reference=sale:3") == []


@pytest.mark.parametrize(
    "query",
    [
        "account_prefix=Sales",
        "account_prefix=sales%25",
        "transaction_id=not-a-uuid!",
        "reference=a%00b",
        "limit=0",
        "limit=501",
        "offset=-1",
    ],
)
def test_bad_entry_filters_are_refused(client, viewer, query):
    response = client.get(f"/api/v1/ledger/entries?{query}", headers=viewer)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_balances_sum_per_account_and_currency(client, session, viewer):
    sale(session, amount=2500)
    sale(session, reference="sale:2", amount=1000)
    sale(session, reference="sale:3", amount=300, currency="JPY", product=8)
    body = client.get("/api/v1/ledger/balances", headers=viewer).json()
    assert body == {
        "balances": [
            {"account": "fees:stripe", "currency": "EUR", "balance_minor": 180},
            {"account": "fees:stripe", "currency": "JPY", "balance_minor": 90},
            {"account": "sales:product:7", "currency": "EUR", "balance_minor": -3500},
            {"account": "sales:product:8", "currency": "JPY", "balance_minor": -300},
            {"account": "shop:stripe", "currency": "EUR", "balance_minor": 3320},
            {"account": "shop:stripe", "currency": "JPY", "balance_minor": 210},
        ]
    }
    only_sales = client.get("/api/v1/ledger/balances?prefix=sales:", headers=viewer).json()
    assert [row["account"] for row in only_sales["balances"]] == [
        "sales:product:7",
        "sales:product:8",
    ]
    refused = client.get("/api/v1/ledger/balances?prefix=SALES", headers=viewer)
    assert refused.status_code == 422


def test_the_ledger_offers_no_way_to_write(client):
    paths = client.get("/openapi.json").json()["paths"]
    ledger = {path: set(ops) for path, ops in paths.items() if path.startswith("/api/v1/ledger")}
    assert ledger == {
        "/api/v1/ledger/head": {"get"},
        "/api/v1/ledger/checkpoint": {"get"},
        "/api/v1/ledger/verify": {"get"},
        "/api/v1/ledger/export": {"get"},
        "/api/v1/ledger/entries": {"get"},
        "/api/v1/ledger/balances": {"get"},
    }


def test_the_money_page_verifies_the_chain_when_asked(client, session, viewer):
    from tests.api.test_web_login import _login

    sale(session)
    sale(session, reference="sale:2")
    _login(client, viewer)
    plain = client.get("/money")
    assert plain.status_code == 200
    assert "Verify the chain" in plain.text and "The chain verifies." not in plain.text
    assert "The chain verifies." in client.get("/money?verify=1").text
    allow_ledger_writes(session)
    session.execute(text("UPDATE ledger_entry SET reference = 'sale:9' WHERE sequence = 4"))
    restore_ledger_guard(session)
    session.commit()
    assert "The chain does NOT verify" in client.get("/money?verify=1").text
