"""Hole 10: keys can be listed, revoked, rotated and expired; a revoked key fails at once everywhere.

Before: keys could only be created; nothing listed, revoked or expired them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx2
from sqlmodel import Session, select

from app.api.keys import ApiKey, Role, create_key
from tests.cli.support import run_cli


def _bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


def test_cli_lists_revokes_and_rotates(database_url, engine, session):
    made = run_cli(
        "keys", "create", "--role", "device", "--name", "door pi", database_url=database_url
    )
    assert made.returncode == 0, made.stderr
    plain = made.stdout.strip()
    row = session.exec(select(ApiKey).where(ApiKey.name == "door pi")).one()

    listed = run_cli("keys", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.endswith("door pi"))
    assert line.split("\t")[:3] == [str(row.id), "device", plain[:12]]
    assert plain not in listed.stdout and row.key_hash not in listed.stdout

    rotated = run_cli(
        "keys", "rotate", str(row.id), "--expires-in-days", "30", database_url=database_url
    )
    assert rotated.returncode == 0, rotated.stderr
    new_plain = rotated.stdout.strip()
    assert new_plain.startswith("llk_") and new_plain != plain
    session.expire_all()
    old = session.get(ApiKey, row.id)
    assert old is not None and not old.active and old.revoked_at is not None
    new = session.exec(select(ApiKey).where(ApiKey.lookup == new_plain[:12])).one()
    assert (new.name, new.role) == ("door pi", "device")
    assert new.expires_at is not None
    assert timedelta(days=29) < new.expires_at - datetime.now(UTC) <= timedelta(days=30)

    revoked = run_cli("keys", "revoke", str(new.id), database_url=database_url)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout
    assert run_cli("keys", "list", database_url=database_url).stdout.count("door pi") == 0
    everything = run_cli("keys", "list", "--all", database_url=database_url).stdout
    assert everything.count("door pi") == 2
    missing = run_cli("keys", "revoke", "99999", database_url=database_url)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_admins_manage_keys_over_the_api(client, admin, key_for):
    created = client.post(
        "/api/v1/keys", json={"name": "bench scope", "role": "device"}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("llk_") and body["prefix"] == body["key"][:12]
    assert client.get("/api/v1/machines", headers=_bearer(body["key"])).status_code == 403

    listed = client.get("/api/v1/keys", headers=admin).json()
    assert {"bench scope"} <= {row["name"] for row in listed}
    assert all("key" not in row and "key_hash" not in row for row in listed)

    rotated = client.post(f"/api/v1/keys/{body['id']}/rotate", json={}, headers=admin)
    assert rotated.status_code == 201
    assert (
        client.post("/api/v1/events/badge", json={}, headers=_bearer(body["key"])).status_code
        == 401
    )
    new_key = rotated.json()["key"]
    revoked = client.post(f"/api/v1/keys/{rotated.json()['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert client.get("/api/v1/keys", headers=_bearer(new_key)).status_code == 401

    # Only admins.
    for role in (Role.OPERATOR, Role.VIEWER, Role.DEVICE):
        assert client.get("/api/v1/keys", headers=key_for(role)).status_code == 403


def test_rotation_can_keep_the_old_key_for_a_while(client, admin):
    old = client.post("/api/v1/keys", json={"name": "pi", "role": "viewer"}, headers=admin).json()
    rotated = client.post(
        f"/api/v1/keys/{old['id']}/rotate", json={"keep_old_for_s": 3600}, headers=admin
    )
    assert rotated.status_code == 201
    assert client.get("/api/v1/machines", headers=_bearer(old["key"])).status_code == 200
    listed = {row["id"]: row for row in client.get("/api/v1/keys", headers=admin).json()}
    assert listed[old["id"]]["expires_at"] is not None


def test_the_last_admin_key_cannot_be_revoked_over_the_api(client, session):
    row, plain = create_key(session, "only admin", Role.ADMIN)
    response = client.post(f"/api/v1/keys/{row.id}/revoke", headers=_bearer(plain))
    assert response.status_code == 409
    assert "last admin key" in response.json()["error"]["message"]


def test_an_expired_key_is_refused(client, session, admin):
    _row, plain = create_key(
        session, "soon gone", Role.VIEWER, datetime.now(UTC) + timedelta(seconds=1)
    )
    assert client.get("/api/v1/machines", headers=_bearer(plain)).status_code == 200
    time.sleep(1.2)
    response = client.get("/api/v1/machines", headers=_bearer(plain))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]
    past = client.post(
        "/api/v1/keys",
        json={"name": "x", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"},
        headers=admin,
    )
    assert past.status_code == 422
    naive = client.post(
        "/api/v1/keys",
        json={"name": "x", "role": "viewer", "expires_at": "2099-01-01T00:00:00"},
        headers=admin,
    )
    assert naive.status_code == 422


def test_last_used_is_written_at_most_once_a_minute(client, session):
    row, plain = create_key(session, "counter", Role.VIEWER)
    assert row.last_used_at is None
    client.get("/api/v1/machines", headers=_bearer(plain))
    session.expire_all()
    first = session.get(ApiKey, row.id).last_used_at
    assert first is not None and datetime.now(UTC) - first < timedelta(seconds=10)
    for _ in range(5):
        client.get("/api/v1/machines", headers=_bearer(plain))
    session.expire_all()
    assert session.get(ApiKey, row.id).last_used_at == first
    # A minute later, the next use moves it.
    with Session(session.get_bind()) as db:
        stored = db.get(ApiKey, row.id)
        stored.last_used_at = first - timedelta(seconds=61)
        db.add(stored)
        db.commit()
    client.get("/api/v1/machines", headers=_bearer(plain))
    session.expire_all()
    assert session.get(ApiKey, row.id).last_used_at > first


def test_a_revoked_key_fails_within_a_second_on_every_replica(service_process, session):
    _admin_row, admin_plain = create_key(session, "ops", Role.ADMIN)
    victim, victim_plain = create_key(session, "leaked", Role.VIEWER)
    one, two = service_process(), service_process()
    for replica in (one, two):
        response = httpx2.get(replica.url + "/api/v1/machines", headers=_bearer(victim_plain))
        assert response.status_code == 200
    revoked = httpx2.post(
        f"{one.url}/api/v1/keys/{victim.id}/revoke", headers=_bearer(admin_plain), timeout=10
    )
    assert revoked.status_code == 200, revoked.text
    revoked_at = time.monotonic()
    for replica in (two, one):
        response = httpx2.get(replica.url + "/api/v1/machines", headers=_bearer(victim_plain))
        assert response.status_code == 401
    assert time.monotonic() - revoked_at < 1.0
