"""Create, read, list, update and deactivate the lab's resources through the API."""

from __future__ import annotations

from tests import factories

CARD_DECIMAL = "0012771493"
CARD_FRAME_HEX = "0F00C2E0A5"


def test_commons_fund_exists_from_the_first_migration(client, admin):
    body = client.get("/api/v1/contributors/1", headers=admin).json()
    assert body["is_commons_fund"] is True
    assert body["name"] == "Commons fund"


def test_contributor_display_name_defaults_to_name_and_can_change(client, admin):
    made = factories.contributor(client, admin, name="Grace Hopper", email="grace@example.org")
    assert made["display_name"] == "Grace Hopper"
    response = client.patch(
        f"/api/v1/contributors/{made['id']}", json={"display_name": "gh"}, headers=admin
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "gh"
    assert response.json()["email"] == "grace@example.org"


def test_contributor_list_pages_and_filters(client, admin):
    for n in range(5):
        factories.contributor(client, admin, name=f"Filter Person {n}")
    first = client.get("/api/v1/contributors?limit=2&name=Filter", headers=admin).json()
    assert first["total"] == 5
    assert [c["name"] for c in first["items"]] == ["Filter Person 0", "Filter Person 1"]
    last = client.get("/api/v1/contributors?limit=2&offset=4&name=Filter", headers=admin).json()
    assert [c["name"] for c in last["items"]] == ["Filter Person 4"]


def test_deactivating_a_contributor_revokes_their_badges(client, admin):
    person = factories.contributor(client, admin)
    card = factories.badge(client, admin, person["id"], CARD_DECIMAL)
    response = client.post(f"/api/v1/contributors/{person['id']}/deactivate", headers=admin)
    assert response.json()["active"] is False
    assert client.get(f"/api/v1/badges/{card['id']}", headers=admin).json()["status"] == "revoked"
    listed = client.get("/api/v1/contributors?active=false", headers=admin).json()
    assert [c["id"] for c in listed["items"]] == [person["id"]]


def test_commons_fund_cannot_be_deactivated(client, admin):
    response = client.post("/api/v1/contributors/1/deactivate", headers=admin)
    assert response.status_code == 409


def test_badge_card_ids_are_stored_canonically(client, admin):
    person = factories.contributor(client, admin)
    made = factories.badge(client, admin, person["id"], CARD_FRAME_HEX)
    assert made["card_id"] == CARD_DECIMAL


def test_same_card_enrolled_twice_is_409(client, admin):
    person = factories.contributor(client, admin)
    factories.badge(client, admin, person["id"], CARD_DECIMAL)
    response = client.post(
        "/api/v1/badges",
        json={"card_id": CARD_FRAME_HEX, "contributor_id": person["id"]},
        headers=admin,
    )
    assert response.status_code == 409
    assert "already enrolled" in response.json()["error"]["message"]


def test_same_card_for_two_people_is_409(client, admin):
    first = factories.contributor(client, admin)
    second = factories.contributor(client, admin)
    factories.badge(client, admin, first["id"], CARD_DECIMAL)
    response = client.post(
        "/api/v1/badges",
        json={"card_id": CARD_DECIMAL, "contributor_id": second["id"]},
        headers=admin,
    )
    assert response.status_code == 409
    assert "another contributor" in response.json()["error"]["message"]


def test_badge_for_missing_contributor_is_404(client, admin):
    response = client.post(
        "/api/v1/badges", json={"card_id": CARD_DECIMAL, "contributor_id": 999999}, headers=admin
    )
    assert response.status_code == 404


def test_badge_that_is_not_a_card_number_is_422(client, admin):
    person = factories.contributor(client, admin)
    response = client.post(
        "/api/v1/badges", json={"card_id": "hello!", "contributor_id": person["id"]}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "card_id"


def test_badge_list_finds_a_card_by_any_form(client, admin):
    person = factories.contributor(client, admin)
    factories.badge(client, admin, person["id"], CARD_DECIMAL)
    found = client.get(f"/api/v1/badges?card_id={CARD_FRAME_HEX}", headers=admin).json()
    assert found["total"] == 1


def test_revoked_badge_can_be_reinstated(client, admin):
    person = factories.contributor(client, admin)
    card = factories.badge(client, admin, person["id"], CARD_DECIMAL)
    revoked = client.post(f"/api/v1/badges/{card['id']}/deactivate", headers=admin).json()
    assert revoked["status"] == "revoked" and revoked["revoked_at"]
    back = client.patch(f"/api/v1/badges/{card['id']}", json={"status": "active"}, headers=admin)
    assert back.json()["status"] == "active" and back.json()["revoked_at"] is None


def test_machine_defaults_to_the_commons_fund_and_filters(client, admin):
    laser = factories.machine(
        client, admin, kind="laser", adapter="tasmota", address="laser1", running_threshold_w=200
    )
    factories.machine(client, admin)
    assert laser["provider_id"] == 1
    lasers = client.get("/api/v1/machines?kind=laser", headers=admin).json()
    assert [m["id"] for m in lasers["items"]] == [laser["id"]]


def test_two_machines_on_one_address_conflict(client, admin):
    factories.machine(client, admin, address="SN1")
    response = client.post(
        "/api/v1/machines",
        json={"name": "Other", "kind": "printer", "adapter": "bambu", "address": "SN1"},
        headers=admin,
    )
    assert response.status_code == 409


def test_machine_update_refuses_null_for_required_field(client, admin):
    made = factories.machine(client, admin)
    response = client.patch(f"/api/v1/machines/{made['id']}", json={"name": None}, headers=admin)
    assert response.status_code == 422
    cleared = client.patch(
        f"/api/v1/machines/{made['id']}", json={"running_threshold_w": None}, headers=admin
    )
    assert cleared.status_code == 200


def test_machine_deactivate_keeps_the_row(client, admin):
    made = factories.machine(client, admin)
    client.post(f"/api/v1/machines/{made['id']}/deactivate", headers=admin)
    again = client.get(f"/api/v1/machines/{made['id']}", headers=admin)
    assert again.status_code == 200 and again.json()["active"] is False


def test_reader_bound_to_machine_or_door(client, admin):
    made = factories.machine(client, admin)
    at_machine = factories.reader(client, admin, machine_id=made["id"])
    door = factories.reader(client, admin)
    assert door["machine_id"] is None
    bound = client.get(f"/api/v1/readers?machine_id={made['id']}", headers=admin).json()
    assert [r["id"] for r in bound["items"]] == [at_machine["id"]]
    missing = client.post(
        "/api/v1/readers", json={"name": "x", "machine_id": 424242}, headers=admin
    )
    assert missing.status_code == 404


def test_product_skus_are_unique_across_products(client, admin):
    first = factories.product(client, admin, "BOARD-R1", "BOARD-R1-KIT")
    assert first["skus"] == ["BOARD-R1", "BOARD-R1-KIT"]
    response = client.post(
        "/api/v1/products", json={"name": "Other", "skus": ["BOARD-R1"]}, headers=admin
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["sku"] == "BOARD-R1"


def test_product_skus_can_be_replaced_and_found(client, admin):
    made = factories.product(client, admin, "A-1")
    updated = client.patch(f"/api/v1/products/{made['id']}", json={"skus": ["B-2"]}, headers=admin)
    assert updated.json()["skus"] == ["B-2"]
    found = client.get("/api/v1/products?sku=B-2", headers=admin).json()
    assert [p["id"] for p in found["items"]] == [made["id"]]
    assert client.get("/api/v1/products?sku=A-1", headers=admin).json()["total"] == 0


def test_missing_rows_are_404_json(client, admin):
    for path in ("contributors", "badges", "machines", "readers", "products"):
        response = client.get(f"/api/v1/{path}/4242", headers=admin)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
