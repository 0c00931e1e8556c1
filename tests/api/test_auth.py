"""Every /api/v1 route needs a key with a fitting role."""

from __future__ import annotations

import re

import pytest

from app.api.keys import Role


def test_request_without_key_is_401_json(client):
    response = client.get("/api/v1/contributors")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_unknown_key_is_401(client):
    response = client.get("/api/v1/contributors", headers={"Authorization": "Bearer llk_nope"})
    assert response.status_code == 401
    assert "not valid" in response.json()["error"]["message"]


def test_viewer_reads_but_cannot_write(client, key_for):
    viewer = key_for(Role.VIEWER)
    assert client.get("/api/v1/contributors", headers=viewer).status_code == 200
    response = client.post("/api/v1/contributors", json={"name": "Ada"}, headers=viewer)
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "forbidden"
    assert body["details"]["role"] == "viewer"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
def test_admin_and_operator_write(client, key_for, role):
    response = client.post("/api/v1/contributors", json={"name": "Ada"}, headers=key_for(role))
    assert response.status_code == 201


def test_device_key_cannot_manage_resources(client, key_for):
    device = key_for(Role.DEVICE)
    assert client.get("/api/v1/machines", headers=device).status_code == 403
    response = client.post("/api/v1/contributors", json={"name": "Ada"}, headers=device)
    assert response.status_code == 403


def test_every_api_route_requires_a_key(client):
    checked = 0
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method in operations:
            if (method, path) in {  # public by design
                ("get", "/api/v1/ledger/head"),
                ("get", "/api/v1/ledger/checkpoint"),
            }:
                continue
            response = client.request(method, re.sub(r"\{[^}]+\}", "1", path))
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 20


def test_keys_are_stored_hashed(client, session, key_for):
    from sqlmodel import select

    from app.api.keys import ApiKey

    headers = key_for(Role.ADMIN)
    plain = headers["Authorization"].removeprefix("Bearer ")
    stored = session.exec(select(ApiKey)).all()
    assert stored
    assert all(plain not in (row.key_hash, row.lookup) for row in stored)
    assert all(len(row.key_hash) == 64 for row in stored)
