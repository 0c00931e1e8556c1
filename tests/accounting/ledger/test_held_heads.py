"""Holding the database to a head seen earlier: truncation and full re-chains are found."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text
from sqlmodel import Session, select

from app.accounting.ledger.chain import GENESIS_HASH, entry_hash
from app.accounting.ledger.checkpoints import (
    CheckpointError,
    check_signature,
    generate_key,
    load_key,
    parse_checkpoint,
    sign_checkpoint,
)
from app.accounting.ledger.postings import (
    Posting,
    _content,
    chain_head,
    post_transaction,
    verify_held_head,
)
from app.accounting.ledger.tables import LedgerEntry
from app.api.keys import Role
from app.checkpoint_publisher import CheckpointPublisher
from app.main import create_app
from tests.cli.support import run_cli as run_labledger
from tests.databases import allow_ledger_writes, restore_ledger_guard

MOMENT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def post(session, reference: str, amount: int = 1000) -> None:
    post_transaction(
        session,
        kind="sale",
        reference=reference,
        postings=[
            Posting("shop:stripe", "EUR", amount),
            Posting("sales:product:7", "EUR", -amount),
        ],
        occurred_at=MOMENT,
    )
    session.commit()


def three_transactions(session):
    for number in range(3):
        post(session, f"sale:{number}")
    return chain_head(session)


def tamper(session, *statements):
    allow_ledger_writes(session)
    for sql, params in statements:
        session.execute(text(sql), params)
    restore_ledger_guard(session)
    session.commit()


def rechain_all(session):
    """Rewrite every entry's memo and recompute every hash: a forger who knows the recipe."""
    rows = [row.model_dump() for row in session.exec(select(LedgerEntry)).all()]
    rows.sort(key=lambda row: row["sequence"])
    previous = GENESIS_HASH
    statements = []
    for row in rows:
        row["memo"] = "rewritten"
        row["prev_hash"] = previous
        digest = entry_hash(_content(row))
        statements.append(
            (
                "UPDATE ledger_entry SET memo = 'rewritten', prev_hash = :prev, hash = :digest "
                "WHERE sequence = :sequence",
                {"prev": previous, "digest": digest, "sequence": row["sequence"]},
            )
        )
        previous = digest
    tamper(session, *statements)


def test_a_held_head_verifies_while_the_ledger_grows(session):
    held = three_transactions(session)
    post(session, "sale:later")
    result = verify_held_head(session, held.hash, held.sequence)
    assert result.ok and result.entries == held.sequence + 2
    assert verify_held_head(session, held.hash).ok  # the hash alone is enough too


@pytest.mark.parametrize("with_sequence", [True, False])
def test_deleting_the_last_transaction_is_found(session, with_sequence):
    held = three_transactions(session)
    tamper(session, ("DELETE FROM ledger_entry WHERE sequence > 4", {}))
    result = verify_held_head(session, held.hash, held.sequence if with_sequence else None)
    assert not result.ok
    assert "truncated" in result.problem


def test_deleting_every_row_is_found(session):
    held = three_transactions(session)
    tamper(session, ("DELETE FROM ledger_entry", {}))
    result = verify_held_head(session, held.hash, held.sequence)
    assert (result.ok, result.entries) == (False, 0)
    assert "fewer than the 6" in result.problem


def test_a_full_rechain_with_recomputed_hashes_is_found(session):
    held = three_transactions(session)
    rechain_all(session)
    from app.accounting.ledger.postings import verify_chain

    assert verify_chain(session).ok  # the chain alone cannot tell
    result = verify_held_head(session, held.hash, held.sequence)
    assert not result.ok and "rewritten" in result.problem
    assert not verify_held_head(session, held.hash).ok


def test_the_api_checks_a_held_head(client, session, key_for):
    viewer = key_for(Role.VIEWER)
    held = three_transactions(session)
    params = {"head": held.hash, "sequence": held.sequence}
    assert client.get("/api/v1/ledger/verify", params=params, headers=viewer).json()["ok"]
    rechain_all(session)
    body = client.get("/api/v1/ledger/verify", params=params, headers=viewer).json()
    assert body["ok"] is False and "rewritten" in body["problem"]
    bad = client.get("/api/v1/ledger/verify", params={"head": "xyz"}, headers=viewer)
    assert bad.status_code == 422


# --- signed checkpoints ----------------------------------------------------------------


def test_a_key_is_written_private_and_never_overwritten(tmp_path):
    path = tmp_path / "checkpoint.key"
    public = generate_key(path)
    assert len(public) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(CheckpointError, match="never overwritten"):
        generate_key(path)
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(CheckpointError, match="64 hex"):
        load_key(tmp_path / "bad.key")


def test_a_checkpoint_signature_catches_any_change(tmp_path):
    generate_key(tmp_path / "k")
    key = load_key(tmp_path / "k")
    signed = sign_checkpoint(key, 6, "ab" * 32, MOMENT)
    check_signature(signed)
    check_signature(signed, signed.public_key)
    for change in ({"sequence": 7}, {"head": "cd" * 32}, {"signed_at": "2027-01-01T00:00:00Z"}):
        forged = parse_checkpoint(signed.to_json() | change)
        with pytest.raises(CheckpointError, match="does not verify"):
            check_signature(forged)
    generate_key(tmp_path / "other")
    other = sign_checkpoint(load_key(tmp_path / "other"), 6, "ab" * 32, MOMENT)
    with pytest.raises(CheckpointError, match="another key"):
        check_signature(other, signed.public_key)


def test_the_service_publishes_checkpoints_to_a_file_a_retained_topic_and_the_api(
    settings, engine, broker, tmp_path, client
):
    key_file = tmp_path / "checkpoint.key"
    public = generate_key(key_file)
    configured = settings.model_copy(
        update={
            "checkpoint_key_file": key_file,
            "checkpoint_file": tmp_path / "checkpoints.jsonl",
            "mqtt_enabled": True,
            "mqtt_host": "127.0.0.1",
            "mqtt_port": broker.port,
            "mqtt_client_id": "checkpoint-test",
        }
    )
    with Session(engine) as session:
        held = three_transactions(session)
    publisher = CheckpointPublisher(configured, engine)
    made = publisher.checkpoint_now()
    assert made is not None and (made.sequence, made.head) == (held.sequence, held.hash)
    assert publisher.checkpoint_now() is None  # the head did not move: nothing new to sign

    lines = (tmp_path / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["head"] for line in lines] == [held.hash]
    retained = read_retained(broker.port, configured.checkpoint_topic)
    check_signature(parse_checkpoint(retained), public)
    assert retained["sequence"] == held.sequence

    assert client.get("/api/v1/ledger/checkpoint").status_code == 404  # that app signs nothing


def test_a_running_service_signs_its_head_and_serves_it_publicly(settings, engine, tmp_path):
    key_file = tmp_path / "checkpoint.key"
    public = generate_key(key_file)
    with Session(engine) as session:
        held = three_transactions(session)
    configured = settings.model_copy(update={"checkpoint_key_file": key_file})
    with TestClient(create_app(configured)) as service:
        deadline = time.monotonic() + 20
        response = service.get("/api/v1/ledger/checkpoint")
        while response.status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.1)
            response = service.get("/api/v1/ledger/checkpoint")
    assert response.status_code == 200
    served = parse_checkpoint(response.json())
    check_signature(served, public)
    assert (served.sequence, served.head) == (held.sequence, held.hash)


def read_retained(port: int, topic: str) -> dict:
    """The retained message on `topic`, as a new subscriber gets it."""
    received: list[bytes] = []
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="checkpoint-reader")
    subscriber.on_message = lambda _c, _u, message: received.append(message.payload)
    subscriber.connect("127.0.0.1", port)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    subscriber.loop_stop()
    subscriber.disconnect()
    assert received, "no retained checkpoint"
    return json.loads(received[0])


def run_cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_labledger(*args, database_url=database_url, LABLEDGER_MQTT_ENABLED="false", **env)


def test_the_cli_signs_a_checkpoint_and_later_finds_a_truncation(database_url, session, tmp_path):
    held = three_transactions(session)
    key = tmp_path / "checkpoint.key"
    made = run_cli(database_url, "ledger", "keygen", str(key))
    assert made.returncode == 0, made.stderr
    public = made.stdout.split()[2]
    checkpoints = tmp_path / "checkpoints.jsonl"
    signed = run_cli(
        database_url,
        "ledger",
        "checkpoint",
        LABLEDGER_CHECKPOINT_KEY_FILE=str(key),
        LABLEDGER_CHECKPOINT_FILE=str(checkpoints),
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["head"] == held.hash

    verify = ["ledger", "verify", "--checkpoint", str(checkpoints), "--public-key", public]
    good = run_cli(database_url, *verify)
    assert good.returncode == 0, good.stderr
    assert "ledger ok: 6 entries" in good.stdout

    by_head = run_cli(database_url, "ledger", "verify", "--head", held.hash)
    assert by_head.returncode == 0, by_head.stderr

    tamper(session, ("DELETE FROM ledger_entry WHERE sequence > 2", {}))
    truncated = run_cli(database_url, *verify)
    assert truncated.returncode == 1
    assert "truncated" in truncated.stderr
    wrong_key = run_cli(database_url, *verify[:-1], "00" * 32)
    assert wrong_key.returncode == 1 and "another key" in wrong_key.stderr
