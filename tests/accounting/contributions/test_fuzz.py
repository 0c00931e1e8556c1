"""Nothing sent to the contribution and equation routes produces a 500, however close to valid."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.api.test_no_500 import BAD_BODIES, JSON

NEAR_VALUES = st.one_of(
    JSON,
    st.sampled_from(
        [
            "2.5",
            "0",
            "-1",
            "1e3",
            "100",
            "99.99",
            "12.345",
            "EUR",
            "JPY",
            "XXX",
            "labour",
            "money",
            "citation",
            "machine",
            "straight",
            "remaining",
            "commons_fund",
            "contributor",
            "contributors",
            "rest",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00+05:00",
            "2026-03-01T00:00:00Z",
            "\u0000",
            2**63,
            -(2**63),
            1,
        ]
    ),
)
ENTRY_KEYS = [
    "contributor_id",
    "product_id",
    "kind",
    "hours",
    "amount",
    "currency",
    "points",
    "percent",
    "revision",
    "role",
    "note",
    "occurred_at",
]
BUCKET_KEYS = ["name", "mode", "percent", "paid_to", "contributor_id", "kinds", "cap"]
RATE_KEYS = ["labour_per_hour", "labour_by_role", "machine_by_id", "machine_by_kind"]


def near(keys):
    return st.dictionaries(st.sampled_from(keys), NEAR_VALUES, max_size=len(keys))


EQUATIONS = st.fixed_dictionaries(
    {},
    optional={
        "effective_from": NEAR_VALUES,
        "rates": near([*RATE_KEYS, "citation_mode"]),
        "buckets": st.lists(near(BUCKET_KEYS), max_size=4),
        "cap_currency": NEAR_VALUES,
        "note": NEAR_VALUES,
    },
)


@pytest.fixture
def seeded(client, admin):
    person = factories.contributor(client, admin)
    product = factories.product(client, admin)
    body = {"contributor_id": person["id"], "kind": "design", "hours": "1"}
    row = client.post("/api/v1/contributions", json=body, headers=admin).json()
    return person, product, row


def routes(product_id, contribution_id):
    return [
        "/api/v1/contributions",
        "/api/v1/contributions/sync",
        f"/api/v1/contributions/{contribution_id}/approve",
        f"/api/v1/contributions/{contribution_id}/reject",
        f"/api/v1/contributions/{contribution_id}/exclude",
        f"/api/v1/products/{product_id}/equations",
    ]


def test_bad_bodies_get_clear_4xx(client, admin, seeded):
    _person, product, row = seeded
    for path in routes(product["id"], row["id"]):
        for body in BAD_BODIES:
            response = client.post(
                path, content=body, headers={**admin, "Content-Type": "application/json"}
            )
            assert response.status_code < 500, (path, body[:60], response.text)
            if response.status_code >= 400:
                assert response.json()["error"]["message"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=near(ENTRY_KEYS), reason=NEAR_VALUES)
def test_near_valid_contributions_never_500(client, admin, seeded, body, reason):
    person, _product, row = seeded
    body.setdefault("contributor_id", person["id"])
    response = client.post("/api/v1/contributions", json=body, headers=admin)
    assert response.status_code < 500, (body, response.text)
    for action in ("reject", "exclude"):
        decided = client.post(
            f"/api/v1/contributions/{row['id']}/{action}", json={"reason": reason}, headers=admin
        )
        assert decided.status_code < 500, (reason, decided.text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=EQUATIONS)
def test_near_valid_equations_never_500(client, admin, seeded, body):
    _person, product, _row = seeded
    response = client.post(f"/api/v1/products/{product['id']}/equations", json=body, headers=admin)
    assert response.status_code < 500, (body, response.text)
    if response.status_code == 201:
        version = response.json()["version"]
        shown = client.get(f"/api/v1/products/{product['id']}/equations/{version}", headers=admin)
        assert shown.json() == response.json()
