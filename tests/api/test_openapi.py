"""The OpenAPI document is complete enough for a client generator: stable ids, tags, every
error in the project's shape, an example for every body, a description for every field."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from app.api.openapi import operation_id
from app.api.openapi.examples import WEBHOOK_BODIES
from app.api.webhooks.payloads import (
    parse_generic,
    parse_shopify,
    parse_stripe,
    parse_woocommerce,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _refs(node, found):
    if isinstance(node, dict):
        if "$ref" in node:
            found.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _api_routes(routes):
    """Every APIRoute, also those inside included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def test_operation_ids_are_unique_snake_case_names_and_every_operation_is_tagged(spec):
    ids = [op["operationId"] for _p, _m, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert {"create_machine", "preview_sale", "verify_ledger", "generic_webhook"} <= set(ids)
    assert all(op.get("tags") for _p, _m, op in _operations(spec))
    described = {tag["name"] for tag in spec["tags"]}
    assert {t for _p, _m, op in _operations(spec) for t in op["tags"]} <= described


def test_every_error_response_has_the_projects_shape(spec):
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                media = response["content"]["application/json"]
                assert media["schema"] == {"$ref": "#/components/schemas/Error"}, (path, code)
                assert set(media["example"]["error"]) == {"code", "message", "details"}
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if operation.get("parameters") or (
            operation.get("requestBody") and path.startswith("/api")
        ):
            assert "422" in responses, (method, path)
        if operation.get("requestBody"):
            assert "413" in responses, (method, path)
        if path.startswith("/api/v1/") and method in ("post", "patch"):
            assert "409" in responses, (method, path)


def test_every_request_body_has_examples_that_the_route_accepts(spec, client):
    routes = {operation_id(r): r for r in _api_routes(client.app.routes)}
    checked = 0
    for path, method, operation in _operations(spec):
        body = operation.get("requestBody")
        if body is None:
            continue
        examples = body["content"]["application/json"]["examples"]
        assert examples, (method, path)
        route = routes[operation["operationId"]]
        if not route.dependant.body_params:
            continue  # a webhook: checked against the shop's parser below
        adapter = TypeAdapter(route.dependant.body_params[0].field_info.annotation)
        for example in examples.values():
            adapter.validate_python(example["value"])
            checked += 1
    assert checked >= 20


def test_webhook_examples_are_what_each_shops_parser_reads():
    now = datetime.now(UTC)
    parse = {
        "generic_webhook": lambda v: parse_generic(v, received_at=now),
        "stripe_webhook": lambda v: parse_stripe(v, received_at=now),
        "shopify_webhook": lambda v: parse_shopify("orders/paid", v, received_at=now),
        "woocommerce_webhook": lambda v: parse_woocommerce("order.updated", v, {}, received_at=now),
    }
    for name, (_description, examples) in WEBHOOK_BODIES.items():
        for example in examples.values():
            (event,) = parse[name](example["value"])
            assert event.amount_minor > 0


def test_every_field_a_client_fills_in_and_every_parameter_is_described(spec):
    schemas = spec["components"]["schemas"]
    todo = set()
    for _p, _m, operation in _operations(spec):
        _refs(operation.get("requestBody", {}), todo)
        for parameter in operation.get("parameters", []):
            assert parameter.get("description") or parameter["schema"].get("description"), (
                operation["operationId"],
                parameter["name"],
            )
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for field, definition in schemas[name].get("properties", {}).items():
            assert definition.get("description"), f"{name}.{field}"
        _refs(schemas[name], todo)
    assert {"EquationCreate", "BucketIn", "RatesIn", "MachineCreate", "LabourEntry"} <= seen


def test_the_equation_examples_are_the_worked_examples_of_the_docs(spec):
    operation = spec["paths"]["/api/v1/products/{product_id}/equations"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    page = (ROOT / "docs/equations.md").read_text()
    documented = [
        json.loads(body.replace("$FUNDER", "2"))
        for body in re.findall(r"<<'?JSON'?\n(.*?)\nJSON", page, re.S)
    ]
    assert [e["value"] for e in examples.values()] == documented
