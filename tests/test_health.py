"""Liveness, readiness and metrics."""

from __future__ import annotations


def test_healthz_answers_without_a_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_database_and_mqtt_state(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["mqtt"]["state"] == "disabled"


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    broken = Settings(
        database_url=f"sqlite:///{tmp_path}/missing/dir/x.db", mqtt_enabled=False, _env_file=None
    )
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "missing"
    assert f"mkdir -p {tmp_path}/missing/dir" in response.json()["detail"]
    assert not (tmp_path / "missing").exists()


def test_metrics_count_requests_by_route_template(client, admin):
    client.get("/api/v1/contributors/1", headers=admin)
    text = client.get("/metrics").text
    assert (
        'labledger_http_requests_total{method="GET",route="/api/v1/contributors/{contributor_id}",status="200"}'
        in text
    )


def test_unknown_path_is_json_404(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_login_page_shows_broker_state(client):
    page = client.get("/")
    assert page.status_code == 200 and "Log in" in page.text
    assert 'id="mqtt-state"' in page.text and "disabled" in page.text


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/v1/machines" in client.get("/openapi.json").json()["paths"]
