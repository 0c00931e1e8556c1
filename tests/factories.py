"""Factory functions that make test data through the real API."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

_counter = itertools.count(1)


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def contributor(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A new contributor."""
    body = {"name": f"Maker {next(_counter)}", **fields}
    return _created(client.post("/api/v1/contributors", json=body, headers=headers))


def badge(
    client: TestClient, headers: dict[str, str], contributor_id: int, card_id: str
) -> dict[str, Any]:
    """A badge enrolled for a contributor."""
    body = {"card_id": card_id, "contributor_id": contributor_id}
    return _created(client.post("/api/v1/badges", json=body, headers=headers))


def machine(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A new machine (a Bambu printer unless told otherwise)."""
    n = next(_counter)
    body = {"name": f"Printer {n}", "kind": "printer", "adapter": "bambu", "address": f"SN{n:06d}"}
    body.update(fields)
    return _created(client.post("/api/v1/machines", json=body, headers=headers))


def reader(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A new reader."""
    body = {"name": f"Reader {next(_counter)}", **fields}
    return _created(client.post("/api/v1/readers", json=body, headers=headers))


def product(
    client: TestClient, headers: dict[str, str], *skus: str, **fields: Any
) -> dict[str, Any]:
    """A new product under `skus`."""
    n = next(_counter)
    body = {"name": f"Product {n}", "skus": list(skus) or [f"SKU-{n}"], **fields}
    return _created(client.post("/api/v1/products", json=body, headers=headers))


def capped_funder_equation(
    client: TestClient,
    headers: dict[str, str],
    product_id: int,
    funder_id: int,
    *,
    effective_from: str = "2020-01-01T00:00:00Z",
    commons: bool = True,
    payback_percent: str = "40",
    cap: str = "15.00",
) -> dict[str, Any]:
    """A new equation version: commons 10 % (optional), a funder's payback capped in EUR,
    and the rest to the makers by labour."""
    buckets: list[dict[str, Any]] = []
    if commons:
        buckets.append(
            {"name": "commons", "mode": "straight", "percent": "10", "paid_to": "commons_fund"}
        )
    buckets += [
        {
            "name": "payback",
            "mode": "straight",
            "percent": payback_percent,
            "paid_to": "contributor",
            "contributor_id": funder_id,
            "cap": cap,
        },
        {
            "name": "makers",
            "mode": "remaining",
            "percent": "100",
            "paid_to": "contributors",
            "kinds": ["labour"],
        },
    ]
    body = {"effective_from": effective_from, "cap_currency": "EUR", "buckets": buckets}
    return _created(
        client.post(f"/api/v1/products/{product_id}/equations", json=body, headers=headers)
    )
