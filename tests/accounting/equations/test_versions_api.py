"""Value equations: versions added (never edited), the one in force by date, the default."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from app.accounting.contributions.service import equation_in_force, equation_version
from app.accounting.engine.equation import COMMONS_FUND, DEFAULT_EQUATION
from app.api.keys import Role
from app.errors import NotFound
from tests import factories

COMMONS_THEN_POINTS = [
    {"name": "commons", "mode": "straight", "percent": "10", "paid_to": "commons_fund"},
    {"name": "makers", "mode": "remaining", "percent": "100"},
]


def post_equation(client, headers, product_id, **body):
    body.setdefault("buckets", COMMONS_THEN_POINTS)
    return client.post(f"/api/v1/products/{product_id}/equations", json=body, headers=headers)


def created(client, headers, product_id, **body):
    response = post_equation(client, headers, product_id, **body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def product(client, admin):
    return factories.product(client, admin)


def test_versions_count_up_and_the_newest_in_force_applies(client, admin, session, product):
    pid = product["id"]
    first = created(client, admin, pid, effective_from="2026-03-01T00:00:00Z")
    second = created(
        client,
        admin,
        pid,
        effective_from="2026-06-01T00:00:00+02:00",
        buckets=[{"name": "makers", "mode": "straight", "percent": "100"}],
        note="no commons share over the summer",
    )
    assert (first["version"], second["version"]) == (1, 2)
    assert second["effective_from"].startswith("2026-05-31T22:00:00")
    assert second["note"] == "no commons share over the summer"
    assert second["created_by"].startswith("key:")

    def in_force(*args):
        return equation_in_force(session, pid, datetime(*args, tzinfo=UTC)).version

    assert in_force(2026, 2, 28, 23, 59) == 0  # before any version: the default
    assert in_force(2026, 3, 1) == 1
    assert in_force(2026, 5, 31, 21, 59) == 1
    assert in_force(2026, 5, 31, 22, 0) == 2
    assert in_force(2030, 1, 1) == 2
    assert equation_version(session, pid, 1).buckets[0].recipient_id == COMMONS_FUND
    assert equation_version(session, pid, 2).buckets[0].percent == Fraction(100)

    listed = client.get(f"/api/v1/products/{pid}/equations", headers=admin).json()
    assert [v["version"] for v in listed] == [1, 2]
    one = client.get(f"/api/v1/products/{pid}/equations/1", headers=admin).json()
    assert one == first


def test_a_version_added_later_with_an_earlier_date_supersedes(client, admin, session, product):
    pid = product["id"]
    created(client, admin, pid, effective_from="2026-06-01T00:00:00Z")
    created(client, admin, pid, effective_from="2026-04-01T00:00:00Z")
    assert equation_in_force(session, pid, datetime(2026, 5, 1, tzinfo=UTC)).version == 2
    assert equation_in_force(session, pid, datetime(2026, 7, 1, tzinfo=UTC)).version == 2


def test_without_versions_the_default_equation_is_version_0(client, admin, session, product):
    pid = product["id"]
    assert equation_in_force(session, pid, datetime.now(UTC)) == DEFAULT_EQUATION
    assert DEFAULT_EQUATION.version == 0
    assert equation_version(session, pid, 0) == DEFAULT_EQUATION
    with pytest.raises(NotFound):
        equation_version(session, pid, 1)
    shown = client.get(f"/api/v1/products/{pid}/equations/0", headers=admin).json()
    assert shown["version"] == 0 and shown["effective_from"] is None
    assert shown["rates"]["machine_per_hour"] == "0.5"
    assert [(b["name"], b["paid_to"], b["percent"]) for b in shown["buckets"]] == [
        ("commons", "commons_fund", "10"),
        ("contributors", "contributors", "100"),
    ]
    assert client.get(f"/api/v1/products/{pid}/equations", headers=admin).json() == []
    missing = client.get(f"/api/v1/products/{pid}/equations/1", headers=admin)
    assert missing.status_code == 404 and "version 1" in missing.json()["error"]["message"]


def test_equations_are_never_edited_in_place(client, admin, product):
    pid = product["id"]
    created(client, admin, pid, effective_from="2026-03-01T00:00:00Z")
    body = {"effective_from": "2026-03-01T00:00:00Z", "buckets": COMMONS_THEN_POINTS}
    for method in ("PATCH", "PUT", "DELETE"):
        one = client.request(
            method, f"/api/v1/products/{pid}/equations/1", json=body, headers=admin
        )
        assert one.status_code == 405, method
        assert one.json()["error"]["code"] == "method_not_allowed"
        every = client.request(
            method, f"/api/v1/products/{pid}/equations", json=body, headers=admin
        )
        assert every.status_code == 405, method
    paths = client.get("/openapi.json").json()["paths"]
    equation_paths = {p: set(ops) for p, ops in paths.items() if "/equations" in p}
    assert equation_paths == {
        "/api/v1/products/{product_id}/equations": {"get", "post"},
        "/api/v1/products/{product_id}/equations/{version}": {"get"},
    }


def test_rates_caps_and_recipients_round_trip(client, admin, product):
    funder = factories.contributor(client, admin, name="Funder")
    laser = factories.machine(client, admin, kind="laser")
    body = created(
        client,
        admin,
        product["id"],
        effective_from="2026-03-01T00:00:00Z",
        rates={
            "labour_per_hour": "1.25",
            "labour_by_role": {"designer": "2"},
            "machine_by_id": {str(laser["id"]): "3.5"},
            "machine_by_kind": {"laser": "1.5"},
            "citation_mode": "percent",
        },
        buckets=[
            {"name": "commons", "mode": "straight", "percent": "10", "paid_to": "commons_fund"},
            {
                "name": "laser payback",
                "mode": "straight",
                "percent": "20",
                "paid_to": "contributor",
                "contributor_id": funder["id"],
                "cap": "1500.00",
            },
            {"name": "makers", "mode": "remaining", "percent": "100", "kinds": ["labour"]},
        ],
        cap_currency="EUR",
    )
    rates = body["rates"]
    assert rates["labour_per_hour"] == "1.25" and rates["labour_by_role"] == {"designer": "2"}
    assert rates["machine_by_id"] == {str(laser["id"]): "3.5"}
    assert rates["machine_by_kind"] == {"laser": "1.5"} and rates["citation_mode"] == "percent"
    assert rates["machine_per_hour"] == "0.5"  # left out: the default's
    payback = body["buckets"][1]
    assert payback["contributor_id"] == funder["id"] and payback["paid_to"] == "contributor"
    assert (payback["cap_minor"], payback["cap"]) == (150000, "1500.00")
    assert body["buckets"][2]["kinds"] == ["labour"] and body["cap_currency"] == "EUR"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {
                "buckets": [
                    {"name": "a", "mode": "straight", "percent": "60"},
                    {"name": "b", "mode": "straight", "percent": "50"},
                ]
            },
            "'b' takes more",
        ),
        (
            {
                "buckets": [
                    {"name": "a", "mode": "straight", "percent": "10"},
                    {"name": "a", "mode": "remaining", "percent": "10"},
                ]
            },
            "unique",
        ),
        ({"buckets": [{"name": "rest", "mode": "straight", "percent": "10"}]}, "buckets[0]"),
        ({"buckets": [{"name": "a", "mode": "straight", "percent": "0"}]}, "percent"),
        ({"buckets": [{"name": "a", "mode": "straight", "percent": "100.5"}]}, "percent"),
        ({"buckets": [{"name": "a", "mode": "sideways", "percent": "10"}]}, "mode"),
        ({"buckets": []}, "buckets"),
        ({"buckets": [{"name": "a", "mode": "straight", "percent": "10", "cap": "5"}]}, "cap"),
        (
            {
                "buckets": [{"name": "a", "mode": "straight", "percent": "10", "cap": "5"}],
                "cap_currency": "EUR",
            },
            "only a fixed recipient can have a cap",
        ),
        (
            {
                "buckets": [
                    {"name": "a", "mode": "straight", "percent": "10", "paid_to": "contributor"}
                ]
            },
            "needs a contributor_id",
        ),
        (
            {
                "buckets": [
                    {
                        "name": "a",
                        "mode": "straight",
                        "percent": "10",
                        "paid_to": "contributor",
                        "contributor_id": 987654,
                    }
                ]
            },
            "contributor 987654 does not exist",
        ),
        (
            {
                "buckets": [
                    {
                        "name": "a",
                        "mode": "straight",
                        "percent": "10",
                        "paid_to": "commons_fund",
                        "kinds": ["labour"],
                    }
                ]
            },
            "only contributor buckets filter kinds",
        ),
        ({"rates": {"machine_by_id": {"987654": "1"}}}, "no machine 987654"),
        ({"rates": {"labour_per_hour": "-1"}}, "labour_per_hour"),
        ({"rates": {"labour_per_hour": 1.5}}, "labour_per_hour"),
        ({"rates": {"citation_mode": "vibes"}}, "citation_mode"),
        ({"cap_currency": "EUR"}, "no bucket has a cap"),
        ({"effective_from": "2026-03-01T00:00:00"}, "effective_from"),
        ({"version": 7}, "version"),
    ],
)
def test_invalid_equations_are_422_naming_the_problem(client, admin, product, body, fragment):
    body = {"effective_from": "2026-03-01T00:00:00Z", "buckets": COMMONS_THEN_POINTS, **body}
    response = client.post(f"/api/v1/products/{product['id']}/equations", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]["message"]
    listed = client.get(f"/api/v1/products/{product['id']}/equations", headers=admin).json()
    assert listed == []


def test_roles_and_missing_products(client, admin, key_for, product):
    viewer, operator = key_for(Role.VIEWER), key_for(Role.OPERATOR)
    when = "2026-03-01T00:00:00Z"
    assert post_equation(client, viewer, product["id"], effective_from=when).status_code == 403
    assert post_equation(client, operator, product["id"], effective_from=when).status_code == 201
    assert (
        client.get(f"/api/v1/products/{product['id']}/equations", headers=viewer).status_code == 200
    )
    assert post_equation(client, admin, 987654, effective_from=when).status_code == 404
    assert client.get("/api/v1/products/987654/equations", headers=admin).status_code == 404
    assert client.get("/api/v1/products/987654/equations/0", headers=admin).status_code == 404
