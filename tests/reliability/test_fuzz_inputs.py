"""Arbitrary bytes into every webhook parser and the CSV importer: a clear error, no partial write.

A signed delivery whose body is garbage, or a real delivery cut or bit-flipped
(and signed again, as a broken shop would), either records what it validly
says or is refused with a JSON error; a refused one leaves every table but the
rejected-delivery log exactly as it was. The same for `labledger import-sales`
given any file: it imports or exits 2 naming the problem, and writes nothing.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from tests.shops import (
    SECRETS,
    body_of,
    generic_headers,
    shopify_headers,
    stripe_checkout,
    stripe_headers,
    woo_headers,
)

ROUTES = ("stripe", "generic", "shopify", "woocommerce")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
IGNORED_TABLES = {"rejected_delivery"}


def _real(route: str) -> bytes:
    if route == "stripe":
        return body_of(
            stripe_checkout("evt_f", "cs_f", [{"sku": "S-1", "quantity": 1, "amount": 700}])
        )
    if route == "generic":
        return body_of(
            {
                "id": "g-1",
                "type": "sale",
                "order": "o-1",
                "occurred_at": "2026-03-02T10:15:00Z",
                "currency": "EUR",
                "lines": [{"sku": "S-1", "quantity": 1, "amount": 700}],
            }
        )
    if route == "shopify":
        return body_of(
            {
                "id": 42,
                "created_at": "2026-03-02T10:15:00Z",
                "currency": "EUR",
                "total_price": "7.00",
                "financial_status": "paid",
                "line_items": [{"sku": "S-1", "quantity": 1, "price": "7.00", "title": "x"}],
            }
        )
    return body_of(
        {
            "id": 43,
            "status": "processing",
            "currency": "EUR",
            "total": "7.00",
            "date_created_gmt": "2026-03-02T10:15:00",
            "line_items": [{"sku": "S-1", "quantity": 1, "total": "7.00", "name": "x"}],
        }
    )


def _signed(route: str, body: bytes) -> dict[str, str]:
    if route == "stripe":
        return stripe_headers(body)
    if route == "generic":
        return generic_headers(body)
    if route == "shopify":
        return shopify_headers(body, "orders/paid", "")
    return woo_headers(body, "order.updated")


def _counts(engine) -> dict[str, int]:
    with Session(engine) as db:
        return {
            table.name: int(db.exec(select(func.count()).select_from(table)).one()[0])
            for table in SQLModel.metadata.sorted_tables
            if table.name not in IGNORED_TABLES
        }


@st.composite
def damaged(draw, route: str) -> bytes:
    body = bytearray(_real(route))
    how = draw(st.sampled_from(["cut", "flip", "splice"]))
    at = draw(st.integers(0, len(body) - 1))
    if how == "cut":
        return bytes(body[:at])
    if how == "flip":
        body[at] ^= draw(st.integers(1, 255))
        return bytes(body)
    return bytes(body[:at]) + draw(st.binary(max_size=40)) + bytes(body[at:])


@pytest.fixture
def shop_client(settings, engine):
    configured = settings.model_copy(
        update={name: [SecretStr(value)] for name, value in SECRETS.items()}
    )
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        yield client


@FUZZ
@given(data=st.data(), route=st.sampled_from(ROUTES))
def test_signed_arbitrary_bytes_are_recorded_whole_or_refused_without_trace(
    shop_client, engine, data, route
):
    body = data.draw(st.binary(max_size=400) | damaged(route))
    before = _counts(engine)
    response = shop_client.post(f"/webhooks/{route}", content=body, headers=_signed(route, body))
    assert response.status_code in (200, 400), (route, body, response.text)
    if response.status_code == 400:
        error = response.json()["error"]
        assert error["code"] == "payload_invalid" and error["message"]
        assert _counts(engine) == before, (route, body)


@FUZZ
@given(content=st.binary(max_size=600) | st.text(max_size=400).map(str.encode))
def test_the_csv_importer_imports_or_refuses_without_writing(
    database_url, engine, tmp_path_factory, content
):
    path = tmp_path_factory.mktemp("csv") / "orders.csv"
    header = b"order,date,currency,sku,quantity,amount\n"
    path.write_bytes(header + content if content[:1] != b"\xff" else content)
    before = _counts(engine)
    result = CliRunner().invoke(
        cli, ["import-sales", str(path)], env={"LABLEDGER_DATABASE_URL": database_url}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "labledger:" in result.output and "orders.csv" in result.output
        assert _counts(engine) == before
