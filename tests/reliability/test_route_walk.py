"""The public routes are exactly the documented list; every other route needs a fitting key.

Every route is called without a key (401, unless public), and with a key of
each role: a role the route's rule does not admit is 403, one it admits is
never 401 or 403. The rule per route is the one the README states.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.api.keys import Role
from tests.reliability.routes import all_routes

ROOT = Path(__file__).resolve().parents[2]

READERS = {Role.ADMIN, Role.OPERATOR, Role.VIEWER}
WRITERS = {Role.ADMIN, Role.OPERATOR}
DEVICES = {Role.ADMIN, Role.DEVICE}
ADMINS = {Role.ADMIN}


def documented_public_routes() -> set[tuple[str, str]]:
    """The `METHOD /path` pairs listed under "Public routes" in the README."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Public routes", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`", section))


def expected_roles(method: str, path: str) -> set[Role]:
    """The README's rule: keys are for admins; device events for devices; reads and writes."""
    if path.startswith("/api/v1/keys") or path.endswith("/void"):
        return ADMINS
    if path.startswith("/api/v1/events/") and method == "POST":
        return DEVICES
    if path == "/api/v1/access/edge":  # the induction list a bridge caches
        return DEVICES
    return READERS if method == "GET" else WRITERS


def _refused(response) -> bool:
    """401 for the API; a page sends a browser to the login page instead."""
    if response.status_code in (302, 303, 307):
        return response.headers["location"].startswith("/login")
    return response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_public_routes_are_exactly_the_documented_list(client):
    documented = documented_public_routes()
    assert len(documented) >= 8
    routes = all_routes(client.app)
    assert documented <= routes, documented - routes
    public = set()
    for method, path in sorted(routes):
        if path == "/api/v1/stream" or method == "OPTIONS":
            continue
        response = client.request(method, _concrete(path), follow_redirects=False)
        if not _refused(response):
            public.add((method, path))
    hidden_public = public - documented
    assert not hidden_public, f"public but not documented: {sorted(hidden_public)}"
    assert public == documented - {("GET", "/api/v1/stream")}


@pytest.fixture
def role_keys(key_for):
    return {role: key_for(role) for role in Role}


def test_every_other_route_is_401_without_a_key_and_403_below_its_role(client, role_keys):
    public = documented_public_routes()
    checked = 0
    mismatches = []
    for method, path in sorted(all_routes(client.app) - public):
        url = _concrete(path)
        response = client.request(method, url, follow_redirects=False)
        assert _refused(response), (method, path, response.status_code)
        if not path.startswith("/api/"):
            continue  # pages: a browser session's roles are the dashboards' own tests
        assert response.json()["error"]["code"] == "unauthorized"
        wanted = expected_roles(method, path)
        for role, headers in role_keys.items():
            if path == "/api/v1/stream" and role in wanted:
                continue  # an admitted caller gets an endless event stream
            status = client.request(method, url, headers=headers).status_code
            admitted = status not in (401, 403)
            if admitted != (role in wanted):
                mismatches.append((method, path, role.value, status))
            checked += 1
    assert not mismatches, mismatches
    assert checked >= 300
