"""Hole 11: one length rule for every text field, in the request schema and the database alike.

Before: a contributor `role` of 51-200 characters passed the schema (200) and
hit the column (50): a 500 on PostgreSQL, silently kept on SQLite. A badge
label (schema 4000, column 200) and webhook ids (255 or joined from two parts,
column 200) did the same.
"""

from __future__ import annotations

import enum
import typing

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from sqlmodel import SQLModel

import app.tables  # noqa: F401
from app.accounting.contributions.schemas import CitationEntry, Decision, LabourEntry, MoneyEntry
from app.accounting.equations.tables import EquationCreate
from app.accounting.products.tables import ProductCreate, ProductUpdate
from app.api.key_schemas import KeyCreate
from app.lab.models import (
    BadgeCreate,
    BadgeUpdate,
    ContributorCreate,
    ContributorUpdate,
    MachineCreate,
    MachineUpdate,
    ReaderCreate,
    ReaderUpdate,
)
from app.lab.schemas import BadgeEventIn, MachineEventIn
from app.main import create_app
from tests import factories
from tests.shops import SECRETS, body_of, generic_headers, shopify_headers

# Each request schema and the table its text fields are stored in.
STORED_IN = {
    ContributorCreate: "contributor",
    ContributorUpdate: "contributor",
    BadgeCreate: "badge",
    BadgeUpdate: "badge",
    MachineCreate: "machine",
    MachineUpdate: "machine",
    ReaderCreate: "reader",
    ReaderUpdate: "reader",
    ProductCreate: "product",
    ProductUpdate: "product",
    EquationCreate: "value_equation",
    LabourEntry: "contribution",
    CitationEntry: "contribution",
    MoneyEntry: "contribution",
    Decision: "contribution",
    KeyCreate: "api_key",
    BadgeEventIn: "device_event",
    MachineEventIn: "machine_run",
}
# Inputs that are normalised before storage, so their input length is not the column's.
NORMALISED = {("BadgeCreate", "card_id"), ("BadgeEventIn", "badge")}


def _max_length(model: type[BaseModel], name: str) -> int | None:
    annotation = model.model_fields[name].annotation
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, enum.Enum):
            return max(len(str(member.value)) for member in arg)
        if typing.get_origin(arg) is typing.Literal:
            return max(len(str(value)) for value in typing.get_args(arg))
    for meta in model.model_fields[name].metadata:
        if getattr(meta, "max_length", None):
            return int(meta.max_length)
    for arg in typing.get_args(model.model_fields[name].annotation):
        for meta in getattr(arg, "__metadata__", ()):
            if getattr(meta, "max_length", None):
                return int(meta.max_length)
    return None


def _column_lengths(table: str) -> dict[str, int]:
    columns = SQLModel.metadata.tables[table].columns
    return {c.name: c.type.length for c in columns if getattr(c.type, "length", None)}


def test_every_request_text_field_fits_its_column():
    checked = 0
    for model, table in STORED_IN.items():
        lengths = _column_lengths(table)
        for name in model.model_fields:
            if name not in lengths or (model.__name__, name) in NORMALISED:
                continue
            declared = _max_length(model, name)
            assert declared is not None, f"{model.__name__}.{name} has no maximum length"
            assert declared <= lengths[name], (
                f"{model.__name__}.{name} allows {declared} characters, {table}.{name} "
                f"holds {lengths[name]}"
            )
            checked += 1
    assert checked >= 25


def test_every_string_in_every_request_body_is_bounded(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    unbounded = []

    def visit(name: str, schema: dict, seen: set[str]) -> None:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[1]
            if ref not in seen:
                visit(ref, schemas[ref], seen | {ref})
            return
        for option in schema.get("anyOf", []) + schema.get("oneOf", []):
            visit(name, option, seen)
        if schema.get("type") == "string" and not (
            "maxLength" in schema
            or "enum" in schema
            or "const" in schema
            or "pattern" in schema
            or "format" in schema
        ):
            unbounded.append(name)
        for prop, sub in schema.get("properties", {}).items():
            visit(f"{name}.{prop}", sub, seen)
        if "items" in schema:
            visit(f"{name}[]", schema["items"], seen)
        if isinstance(schema.get("additionalProperties"), dict):
            visit(f"{name}{{}}", schema["additionalProperties"], seen)

    bodies = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                visit(f"{method} {path}", media["schema"], set())
                bodies += 1
    assert bodies >= 15
    assert unbounded == []


def _over(limit: int) -> str:
    return "r" * (limit + 1)


@pytest.fixture
def contributor_id(client, admin) -> int:
    return factories.contributor(client, admin)["id"]


CASES = [
    ("/api/v1/contributors", {"name": "A"}, "role", 50),
    ("/api/v1/contributors", {"name": "A"}, "name", 200),
    ("/api/v1/contributors", {"name": "A"}, "display_name", 200),
    ("/api/v1/contributors", {"name": "A"}, "payout_details", 4000),
    ("/api/v1/badges", {"card_id": "0012771493"}, "label", 200),
    ("/api/v1/machines", {"kind": "printer", "adapter": "lab", "address": "a"}, "name", 200),
    ("/api/v1/machines", {"name": "M", "kind": "printer", "adapter": "lab"}, "address", 500),
    ("/api/v1/readers", {"name": "R"}, "address", 500),
    ("/api/v1/products", {"name": "P", "skus": ["S"]}, "description", 4000),
    ("/api/v1/keys", {"role": "viewer"}, "name", 200),
    ("/api/v1/contributions", {"kind": "labour", "hours": "1"}, "role", 50),
    ("/api/v1/contributions", {"kind": "labour", "hours": "1"}, "note", 4000),
]


@pytest.mark.parametrize(("path", "base", "field", "limit"), CASES)
def test_too_long_is_422_and_the_limit_is_stored(
    client, admin, contributor_id, path, base, field, limit
):
    body = dict(base)
    if path in ("/api/v1/badges", "/api/v1/contributions"):
        body["contributor_id"] = contributor_id
    response = client.post(path, json={**body, field: _over(limit)}, headers=admin)
    assert response.status_code == 422, (field, response.status_code, response.text[:200])
    assert response.json()["error"]["details"]["fields"][0]["field"].split(".")[-1] == field
    at_limit = "r" * limit
    response = client.post(path, json={**body, field: at_limit}, headers=admin)
    assert response.status_code == 201, (field, response.status_code, response.text[:300])
    assert response.json()[field] == at_limit


def test_updates_follow_the_same_rule(client, admin, contributor_id):
    path = f"/api/v1/contributors/{contributor_id}"
    assert client.patch(path, json={"role": _over(50)}, headers=admin).status_code == 422
    assert client.patch(path, json={"role": "r" * 50}, headers=admin).status_code == 200
    badge = factories.badge(client, admin, contributor_id, "0000000077")
    response = client.patch(
        f"/api/v1/badges/{badge['id']}", json={"label": _over(200)}, headers=admin
    )
    assert response.status_code == 422
    assert (
        client.post(
            "/api/v1/badges",
            json={"card_id": "9" * 400, "contributor_id": contributor_id},
            headers=admin,
        ).status_code
        == 422
    )


@pytest.fixture
def shop_client(settings, engine):
    configured = settings.model_copy(
        update={name: [SecretStr(value)] for name, value in SECRETS.items()}
    )
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        yield client


def _generic(**fields) -> dict:
    return {
        "id": "evt-1",
        "type": "sale",
        "order": "order-1",
        "occurred_at": "2026-03-02T10:15:00Z",
        "currency": "EUR",
        "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount": 500}],
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "e" * 201},
        {"order": "o" * 201},
        {"lines": [{"sku": "s" * 201, "quantity": 1, "amount": 5}]},
    ],
)
def test_webhook_ids_longer_than_their_columns_are_refused(shop_client, fields):
    body = body_of(_generic(**fields))
    response = shop_client.post("/webhooks/generic", content=body, headers=generic_headers(body))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "payload_invalid"


def test_a_joined_shopify_event_id_longer_than_its_column_is_refused(shop_client):
    order = {
        "id": 7,
        "created_at": "2026-03-02T10:15:00Z",
        "currency": "EUR",
        "total_price": "5.00",
        "financial_status": "paid",
        "line_items": [],
    }
    body = body_of(order)
    headers = shopify_headers(body, "orders/paid" + "x" * 200, "")
    response = shop_client.post("/webhooks/shopify", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "event id" in response.json()["error"]["message"]
