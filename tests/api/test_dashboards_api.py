"""The aggregates the dashboards read: machine, contributor and product figures, now, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlmodel import select

from app.api.keys import Role
from app.lab.downtime import machine_out_of_service
from app.lab.models import Machine
from tests.lab.conftest import T0, Lab, at

DAY = {"since": "2026-03-02T00:00:00Z", "until": "2026-03-03T00:00:00Z", "by": "day"}


def _backdate_machines(session) -> None:
    """Machines made by the fixture today are given a life that covers T0."""
    for machine in session.exec(select(Machine)).all():
        machine.created_at = T0 - timedelta(days=30)
    session.commit()


@pytest.fixture
def lab(client, admin, key_for) -> Lab:
    """The small lab of tests/lab."""
    return Lab(client, admin, key_for(Role.DEVICE))


@pytest.fixture
def worked(lab, session):
    """Ada prints 3 h (finished) and 30 min (failed); Bob works 1 h; a 2 h maintenance window."""
    _backdate_machines(session)
    lab.scan("0012771493", 0)
    lab.state("running", 0, job="bracket")
    lab.state("finished", 3 * 3600, energy_wh=200.0)
    lab.state("running", 4 * 3600)
    lab.state("failed", 4 * 3600 + 1800)
    lab.scan("0012771493", 5 * 3600)
    lab.scan("0000000042", 6 * 3600)
    lab.scan("0000000042", 7 * 3600)
    window = lab.client.post(
        f"/api/v1/machines/{lab.printer['id']}/downtime",
        json={"starts_at": at(10 * 3600), "ends_at": at(12 * 3600), "reason": "nozzle swap"},
        headers=lab.admin,
    )
    assert window.status_code == 201, window.text
    return lab


def test_machine_hours_busy_wall_idle_and_utilisation_net_of_downtime(worked):
    rows = worked.get("stats/machines", **DAY)
    assert len(rows) == 1
    row = rows[0]
    assert row["period"] == "2026-03-02"
    assert row["runs"] == 2 and row["finished"] == 1 and row["failed"] == 1
    assert row["busy_s"] == pytest.approx(3.5 * 3600)
    assert row["wall_s"] == pytest.approx(3.5 * 3600)
    assert row["available_s"] == pytest.approx(22 * 3600)
    assert row["idle_s"] == pytest.approx(18.5 * 3600)
    assert row["utilisation"] == pytest.approx(3.5 / 22, abs=1e-4)
    assert row["energy_wh"] == 200.0


def test_filters_narrow_by_contributor_product_and_role(worked):
    assert worked.get("stats/machines", contributor_id=worked.bob["id"], **DAY)[0]["runs"] == 0
    assert worked.get("stats/machines", contributor_id=worked.ada["id"], **DAY)[0]["runs"] == 2
    assert worked.get("stats/machines", role="maker", **DAY)[0]["runs"] == 2
    assert worked.get("stats/machines", role="steward", **DAY)[0]["runs"] == 0
    assert worked.get("stats/machines", product_id=worked.product["id"], **DAY)[0]["runs"] == 0
    weeks = worked.get(
        "stats/machines", since="2026-02-01T00:00:00Z", until="2026-04-01T00:00:00Z", by="week"
    )
    assert [r["period"] for r in weeks][:2] == ["2026-01-26", "2026-02-02"]
    assert sum(r["runs"] for r in weeks) == 2
    months = worked.get(
        "stats/machines", since="2026-01-15T00:00:00Z", until="2026-04-01T00:00:00Z", by="month"
    )
    assert [r["period"] for r in months] == ["2026-01-01", "2026-02-01", "2026-03-01"]


def test_contributor_hours_labour_operated_and_provided(worked):
    rows = {r["contributor_id"]: r for r in worked.get("stats/contributors", **DAY)}
    ada, bob, fund = rows[worked.ada["id"]], rows[worked.bob["id"]], rows[1]
    assert ada["labour_s"] == pytest.approx(5 * 3600) and ada["sessions"] == 1
    assert ada["operated_runs"] == 2 and ada["operated_busy_s"] == pytest.approx(3.5 * 3600)
    assert bob["labour_s"] == pytest.approx(3600) and bob["operated_runs"] == 0
    assert fund["machine_credit_s"] == pytest.approx(3.5 * 3600)
    only_bob = worked.get("stats/contributors", contributor_id=worked.bob["id"], **DAY)
    assert [r["contributor_id"] for r in only_bob] == [worked.bob["id"]]


def test_every_table_downloads_as_csv_under_the_same_filters(worked):
    for table in ("machines", "contributors", "products"):
        as_json = worked.get(f"stats/{table}", **DAY)
        response = worked.client.get(
            f"/api/v1/stats/{table}", params={**DAY, "format": "csv"}, headers=worked.admin
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert f'filename="{table}.csv"' in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == len(as_json)
        if as_json:
            assert list(rows[0]) == list(as_json[0])


def test_bad_ranges_are_clear_errors(lab):
    for params in (
        {"since": "2026-03-03T00:00:00Z", "until": "2026-03-02T00:00:00Z"},
        {"since": "2000-01-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"},
        {"by": "fortnight"},
        {"format": "xml"},
    ):
        response = lab.client.get("/api/v1/stats/machines", params=params, headers=lab.admin)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] in {"invalid_input", "validation_error"}


def test_now_gives_every_machine_who_is_in_and_unknown_scans(worked, client, key_for):
    worked.scan("0012771493", 8 * 3600)
    worked.state("running", 8 * 3600 + 10, job="gear", progress=12.5)
    worked.scan("0000005555", 8 * 3600 + 20)
    now = worked.get("now")
    (printer,) = now["machines"]
    assert (
        printer["state"] == "running" and printer["job"] == "gear" and printer["progress"] == 12.5
    )
    assert printer["operator"] == "Ada"
    assert [p["contributor"] for p in now["present"]] == ["Ada"]
    assert now["unknown_scans"][0]["card_id"] == "0000005555"
    assert client.get("/api/v1/now", headers=key_for(Role.DEVICE)).status_code == 403


def test_downtime_windows_rest_and_out_of_service_check(lab, session):
    base = f"/api/v1/machines/{lab.printer['id']}/downtime"
    created = lab.client.post(
        base, json={"starts_at": at(0), "reason": "broken belt"}, headers=lab.admin
    )
    assert created.status_code == 201, created.text
    window = created.json()
    assert window["ends_at"] is None
    assert (
        machine_out_of_service(session, lab.printer["id"], T0 + timedelta(days=3)).id
        == window["id"]
    )
    assert machine_out_of_service(session, lab.printer["id"], T0 - timedelta(seconds=1)) is None
    ended = lab.client.patch(
        f"{base}/{window['id']}", json={"ends_at": at(3600)}, headers=lab.admin
    )
    assert ended.status_code == 200 and ended.json()["ends_at"] is not None
    session.expire_all()
    assert (
        machine_out_of_service(session, lab.printer["id"], T0 + timedelta(seconds=3599)) is not None
    )
    assert machine_out_of_service(session, lab.printer["id"], T0 + timedelta(seconds=3600)) is None
    assert [w["id"] for w in lab.get(f"machines/{lab.printer['id']}/downtime")] == [window["id"]]
    backwards = lab.client.post(
        base, json={"starts_at": at(10), "ends_at": at(5)}, headers=lab.admin
    )
    assert backwards.status_code == 422
    naive = lab.client.post(base, json={"starts_at": "2026-03-02T09:00:00"}, headers=lab.admin)
    assert naive.status_code == 422
    assert lab.client.get("/api/v1/machines/999999/downtime", headers=lab.admin).status_code == 404
    other = lab.client.get(
        f"/api/v1/machines/{lab.printer['id']}/downtime/999999", headers=lab.admin
    )
    assert other.status_code == 404
    assert lab.client.delete(f"{base}/{window['id']}", headers=lab.admin).status_code == 204
    assert lab.get(f"machines/{lab.printer['id']}/downtime") == []


def test_metrics_have_per_machine_and_per_lab_series(worked):
    text = worked.client.get("/metrics").text
    name = worked.printer["name"]
    assert f'labledger_machine_state{{machine="{name}",state="failed"}} 1.0' in text
    assert f'labledger_machine_busy_seconds_total{{machine="{name}"}} 12600.0' in text
    assert f'labledger_machine_energy_wh_total{{machine="{name}"}} 200.0' in text
    assert "labledger_open_sessions 0.0" in text
    assert "labledger_unattributed_runs 0.0" in text


def test_money_tables_download_as_csv(client, admin):
    for table, header in (
        ("balances", "contributor_id,contributor,currency"),
        ("totals", "currency,sales"),
    ):
        response = client.get(f"/api/v1/money/{table}", params={"format": "csv"}, headers=admin)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.text.startswith(header)
        assert client.get(f"/api/v1/money/{table}", headers=admin).json() == []
