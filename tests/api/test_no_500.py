"""No request a client can send to a write route produces a 500."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)

BAD_BODIES = [
    b"{not json",
    b"",
    b"null",
    b"[]",
    b'"a string"',
    b"12",
    b'{"name": 12, "kind": ["x"], "adapter": {}, "skus": "x", "contributor_id": "abc"}',
    b'{"name": "' + b"x" * 100_000 + b'"}',
    b'{"name": "nul\\u0000byte", "card_id": "\\u0000", "address": "a\\u0000"}',
    b'{"unknown_field": 1, "name": "Ada"}',
    b'{"contributor_id": 99999999999999999999, "provider_id": -1, "machine_id": 1e308}',
    b'{"running_threshold_w": "NaN", "idle_timeout_s": 1e400}',
    b"\xff\xfe\x00garbage",
]


def write_routes(client) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/api/v1") and method in {"post", "patch", "put"}
    )


@pytest.fixture
def seeded(client, admin):
    """One of each resource, so that /{id} routes reach their bodies."""
    person = factories.contributor(client, admin)
    factories.badge(client, admin, person["id"], "0012771493")
    machine = factories.machine(client, admin)
    factories.reader(client, admin, machine_id=machine["id"])
    factories.product(client, admin)
    return person


def concrete(path: str, row_id: int) -> str:
    return re.sub(r"\{[^}]+\}", str(row_id), path)


def test_bad_bodies_to_every_write_route_get_clear_4xx(client, admin, seeded):
    routes = write_routes(client)
    assert len(routes) >= 15
    for method, path in routes:
        for row_id in (1, 2, 2**31, 10**30):
            for body in BAD_BODIES:
                response = client.request(
                    method,
                    concrete(path, row_id),
                    content=body,
                    headers={**admin, "Content-Type": "application/json"},
                )
                assert response.status_code < 500, (method, path, body[:60], response.text)
                if response.status_code >= 400:
                    error = response.json()["error"]
                    assert error["code"] and error["message"]


def test_validation_errors_name_the_field(client, admin):
    response = client.post("/api/v1/machines", json={"name": "M", "kind": "toaster"}, headers=admin)
    assert response.status_code == 422
    fields = {item["field"] for item in response.json()["error"]["details"]["fields"]}
    assert {"kind", "adapter", "address"} <= fields


def test_unknown_fields_are_refused(client, admin):
    response = client.post(
        "/api/v1/contributors", json={"name": "A", "is_commons_fund": True}, headers=admin
    )
    assert response.status_code == 422
    assert "is_commons_fund" in response.json()["error"]["message"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON, which=st.integers(min_value=0, max_value=1000))
def test_arbitrary_json_never_500s(client, admin, body, which):
    routes = write_routes(client)
    method, path = routes[which % len(routes)]
    response = client.request(method, concrete(path, 1), json=body, headers=admin)
    assert response.status_code < 500, (method, path, body, response.text)
