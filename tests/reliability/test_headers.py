"""Hole 12: security headers on every HTML page, and CORS closed unless origins are set."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from app.main import create_app


def _policy(header: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in header.split(";")
        if part.strip()
    }


def test_html_pages_carry_a_strict_policy(client):
    html_paths = ["/login", "/docs", "/redoc"]
    for path in html_paths:
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = _policy(response.headers["content-security-policy"])
        assert "'unsafe-inline'" not in policy["script-src"], path
        assert "'unsafe-eval'" not in policy["script-src"], path
        assert policy["frame-ancestors"] == "'none'"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] in ("no-referrer", "same-origin")
        # No inline script, but for one the policy names by its hash (Swagger UI's start).
        for script in re.findall(r"<script>(.*?)</script>", response.text, re.S):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy["script-src"], path


def test_any_html_response_gets_the_headers_generically(client):
    """A page added later gets the policy without registering anywhere."""
    from fastapi.responses import HTMLResponse

    app = client.app

    @app.get("/a-new-page", include_in_schema=False)
    def new_page() -> HTMLResponse:
        return HTMLResponse("<p>new</p>")

    response = client.get("/a-new-page")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_json_responses_are_nosniff(client):
    response = client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


def test_cors_is_closed_by_default(client):
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/v1/contributors",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code in (400, 405)


def test_cors_allows_only_the_configured_origins(settings, engine):
    configured = settings.model_copy(update={"cors_origins": ["https://lab.example.org"]})
    with TestClient(create_app(configured)) as client:
        ok = client.get("/healthz", headers={"Origin": "https://lab.example.org"})
        assert ok.headers["access-control-allow-origin"] == "https://lab.example.org"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
