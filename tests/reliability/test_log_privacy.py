"""Hole 7: a full scenario leaves no badge id, email, secret or key in any log line.

Before: badge ids reached the access log through `?card_id=` (and any other
query value was logged as sent).
"""

from __future__ import annotations

import json
import time

import httpx2

from app.api.keys import ApiKey, Role, create_key
from app.redaction import redact_query
from tests.ingest.conftest import Publisher, eventually
from tests.shops import STRIPE_SECRET, body_of, stripe_checkout, stripe_headers

EMAIL = "ada.lovelace@example.org"
CARDS = {"0012771493": "0F00C2E0A5", "0000000042": None, "0099887766": None}
UNKNOWN = "0055443322"


def test_a_full_scenario_logs_no_personal_data_or_secret(service_process, session, broker):
    admin_row, admin_plain = create_key(session, "ops", Role.ADMIN)
    service = service_process(
        mqtt_enabled="true",
        mqtt_host="127.0.0.1",
        mqtt_port=str(broker.port),
        mqtt_client_id="privacy-1",
        stripe_webhook_secrets=STRIPE_SECRET,
        log_level="INFO",
    )
    admin = {"Authorization": f"Bearer {admin_plain}"}
    http = httpx2.Client(base_url=service.url, headers=admin, timeout=10)
    eventually(lambda: http.get("/readyz").json()["mqtt"]["state"] == "connected")

    made = http.post("/api/v1/keys", json={"name": "door", "role": "device"}).json()
    device_plain = made["key"]
    device = {"Authorization": f"Bearer {device_plain}"}
    ada = http.post("/api/v1/contributors", json={"name": "Ada", "email": EMAIL}).json()
    for card in CARDS:
        assert (
            http.post(
                "/api/v1/badges", json={"card_id": card, "contributor_id": ada["id"]}
            ).status_code
            == 201
        )
    machine = http.post(
        "/api/v1/machines",
        json={"name": "P1", "kind": "printer", "adapter": "lab", "address": "p1"},
    ).json()
    http.post("/api/v1/readers", json={"name": "door", "machine_id": machine["id"]})
    http.post("/api/v1/products", json={"name": "Board", "skus": ["BOARD-R1"]})

    # Badge scans over HTTP (in the raw reader form too) and over MQTT, and an unknown card.
    for n, card in enumerate(["0012771493", "0F00C2E0A5", UNKNOWN]):
        response = http.post(
            "/api/v1/events/badge",
            json={"reader": "door", "badge": card, "id": f"scan-{n}"},
            headers=device,
        )
        assert response.status_code == 200, response.text
    publisher = Publisher(broker.port)
    publisher.send("lab/v1/badge/door", {"badge": "0000000042", "id": "mqtt-1"})
    publisher.send("lab/v1/badge/door", {"badge": "not a card!", "id": "mqtt-2"})
    publisher.close()
    eventually(lambda: http.get("/api/v1/sessions").json()["total"] >= 1)

    # Look-ups that carry personal data in the query string.
    for card in [*CARDS, UNKNOWN, "0F00C2E0A5"]:
        http.get("/api/v1/badges", params={"card_id": card})
        http.get("/api/v1/unknown-scans", params={"card_id": card})
    http.get("/api/v1/contributors", params={"email": EMAIL, "name": "Ada"})
    http.get("/api/v1/machines", params={"api_key": device_plain, "token": admin_plain})

    # A signed sale, a forged one, and a wrong key.
    body = body_of(
        stripe_checkout("evt_p", "cs_p", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}])
    )
    assert (
        http.post("/webhooks/stripe", content=body, headers=stripe_headers(body)).status_code == 200
    )
    forged = stripe_headers(body, secret="whsec_wrong")
    assert http.post("/webhooks/stripe", content=body, headers=forged).status_code == 401
    http.get("/api/v1/machines", headers={"Authorization": f"Bearer {admin_plain[:-3]}xyz"})
    http.post(f"/api/v1/keys/{made['id']}/rotate", json={})
    http.close()
    time.sleep(0.5)
    service.stop()

    lines = service.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert len(access) >= 25, "the access log was not captured"
    assert sum("card_id=[redacted]" in r["message"] for r in access) == 10
    assert any("email=[redacted]&name=[redacted]" in r["message"] for r in access)
    key_hash = session.get(ApiKey, admin_row.id).key_hash
    forbidden = {
        EMAIL,
        "ada.lovelace",
        STRIPE_SECRET,
        admin_plain,
        admin_plain[12:],
        device_plain,
        device_plain[12:],
        key_hash,
        UNKNOWN,
        *CARDS,
        *(raw for raw in CARDS.values() if raw),
    }
    text = "\n".join(lines)
    leaks = sorted(item for item in forbidden if item in text)
    assert not leaks, f"{len(leaks)} sensitive values in {len(lines)} log lines"


def test_query_redaction_keeps_names_and_harmless_values():
    assert (
        redact_query("/api/v1/badges?card_id=0012771493&limit=5")
        == "/api/v1/badges?card_id=[redacted]&limit=5"
    )
    assert redact_query("/x?email=a%40b.org&Api-Key=k&offset=0") == (
        "/x?email=[redacted]&Api-Key=[redacted]&offset=0"
    )
    assert redact_query("/plain/path") == "/plain/path"
