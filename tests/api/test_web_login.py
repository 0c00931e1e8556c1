"""Login: an API key exchanged for a session cookie, CSRF on changes, roles as in the API."""

from __future__ import annotations

from app.api.keys import Role
from tests import factories

ORIGIN = {"Origin": "http://testserver"}


def _login(client, headers, **extra):
    key = headers["Authorization"].removeprefix("Bearer ")
    return client.post(
        "/login",
        data={"api_key": key, "next": "/review"},
        headers={**ORIGIN, **extra},
        follow_redirects=False,
    )


def _csrf(client) -> str:
    page = client.get("/").text
    return page.split('name="csrf-token" content="')[1].split('"')[0]


def test_pages_need_a_login_and_the_cookie_is_httponly_and_strict(client, admin):
    first = client.get("/machines?by=week", follow_redirects=False)
    assert (
        first.status_code == 303
        and first.headers["location"] == "/login?next=/machines%3Fby%3Dweek"
    )
    response = _login(client, admin)
    assert response.status_code == 303 and response.headers["location"] == "/review"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert client.get("/review").status_code == 200
    assert client.get("/api/v1/machines").status_code == 200


def test_the_cookie_is_secure_behind_tls(client, admin):
    response = _login(client, admin, **{"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["set-cookie"]


def test_login_refuses_bad_keys_device_keys_other_sites_and_open_redirects(client, key_for):
    assert _login(client, {"Authorization": "Bearer llk_nope"}).status_code == 401
    assert _login(client, key_for(Role.DEVICE)).status_code == 401
    viewer = key_for(Role.VIEWER)["Authorization"].removeprefix("Bearer ")
    foreign = client.post(
        "/login", data={"api_key": viewer}, headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert foreign.status_code == 403
    away = client.post(
        "/login", data={"api_key": viewer, "next": "//evil.example/x"}, headers=ORIGIN,
        follow_redirects=False,
    )  # fmt: skip
    assert away.headers["location"] == "/"


def test_a_browser_session_changes_things_only_with_its_csrf_token(client, admin):
    _login(client, admin)
    body = {"name": "Made in a browser", "kind": "printer", "adapter": "lab", "address": "b1"}
    refused = client.post("/api/v1/machines", json=body)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    wrong = client.post("/api/v1/machines", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    made = client.post("/api/v1/machines", json=body, headers={"X-CSRF-Token": _csrf(client)})
    assert made.status_code == 201, made.text


def test_roles_hold_for_browser_sessions(client, key_for):
    viewer = key_for(Role.VIEWER)
    _login(client, viewer)
    assert client.get("/money").status_code == 200
    review = client.get("/review")
    assert "can look but not act" in review.text and "data-api" not in review.text
    body = {"name": "Nope", "kind": "printer", "adapter": "lab", "address": "n1"}
    denied = client.post("/api/v1/machines", json=body, headers={"X-CSRF-Token": _csrf(client)})
    assert denied.status_code == 403


def test_logout_and_revoking_the_key_end_the_session(client, admin, session):
    from sqlmodel import select

    from app.api.keys import ApiKey

    _login(client, admin)
    csrf = _csrf(client)
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
    _login(client, admin)
    assert client.get("/", follow_redirects=False).status_code == 200
    key = session.exec(select(ApiKey).where(ApiKey.name == "test admin")).one()
    key.active = False
    session.commit()
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/now").status_code == 401


def test_pages_send_a_policy_without_inline_scripts(client, admin):
    factories.machine(client, admin, name="CSP printer")
    _login(client, admin)
    for path in ("/", "/machines", "/contributors", "/products", "/money", "/review", "/login"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "<script>" not in response.text and "onclick" not in response.text


def test_docs_pages_load_their_files_from_this_server(client):
    docs = client.get("/docs").text
    assert "/vendor/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    redoc = client.get("/redoc").text
    assert "/vendor/redoc.standalone.js" in redoc and "fonts.googleapis" not in redoc
    assert client.get("/vendor/swagger-ui-bundle.js").status_code == 200
    assert client.get("/vendor/../../etc/passwd").status_code == 404
    assert client.get("/vendor/unknown.js").status_code == 404
