"""`labledger demo`: an empty database becomes a lab whose API shows a true day, and a
database with real data is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db import dispose_engines, upgrade_database
from app.demo.cast import NotEmpty
from app.demo.run import run_demo
from tests import factories
from tests.cli.support import one_line_error, run_cli

NOW = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)


def _all(client, headers, path):
    body = client.get(path, headers=headers, params={"limit": 500}).json()
    return body["items"] if isinstance(body, dict) and "items" in body else body


def test_the_demo_day_reaches_the_api_through_the_real_paths(engine, settings, client, admin):
    report = run_demo(engine, settings, now=NOW)
    assert (report.sessions, report.runs, report.unknown_scans) == (10, 7, 1)
    assert report.sales == ["sale_recorded"] * 3

    machines = {m["name"]: m["id"] for m in _all(client, admin, "/api/v1/machines")}
    people = {c["name"]: c["id"] for c in _all(client, admin, "/api/v1/contributors")}
    runs = _all(client, admin, "/api/v1/runs")
    by_machine = {}
    for run in runs:
        by_machine.setdefault(run["machine_id"], []).append(run)
    # Bambu reports decoded by the Bambu codec: two prints, the second paused 12 minutes
    x1c = sorted(by_machine[machines["X1C-1"]], key=lambda r: r["started_at"])
    assert [r["job"] for r in x1c] == ["aq_case_bottom_x4", "aq_case_top_x4"]
    assert x1c[1]["busy_s"] == (3 * 60 + 35 - 12) * 60
    assert {r["operator_id"] for r in x1c} == {people["Chen Wei"]}
    failed = [r for r in by_machine[machines["X1C-2"]] if r["end_reason"] == "failed"]
    assert failed and failed[0]["operator_id"] == people["Dana Okafor"]
    # Klipper's own print_duration, and the laser's power-sensed runs with energy
    (voron,) = by_machine[machines["Voron 2.4"]]
    assert voron["provenance"] == "device_reported" and voron["material"] == 18430.5
    laser = by_machine[machines["Laser cutter"]]
    assert len(laser) == 2 and all(r["energy_wh"] > 0 for r in laser)
    assert {r["operator_id"] for r in laser} == {people["Ada Moreau"]}

    sessions = _all(client, admin, "/api/v1/sessions")
    assert sorted(s["close_reason"] for s in sessions).count("timeout") == 1
    unknown = _all(client, admin, "/api/v1/unknown-scans")
    assert [u["card_id"] for u in unknown] == ["0009911001"]

    sales = _all(client, admin, "/api/v1/sales")
    assert len(sales) == 3
    balances = client.get("/api/v1/balances", headers=admin).json()
    assert {b["contributor_id"] for b in balances} >= {people["Fab Fund Coop"], 1}
    assert client.get("/api/v1/ledger/verify", headers=admin).json()["ok"] is True
    preview = client.get(
        f"/api/v1/products/{report.cast.product_id}/preview",
        params={"amount": "100.00", "currency": "EUR"},
        headers=admin,
    )
    assert preview.status_code == 200, preview.text


def test_the_demo_refuses_a_database_with_lab_data(engine, settings, client, admin):
    factories.contributor(client, admin, name="A real member")
    with pytest.raises(NotEmpty, match="1 contributors"):
        run_demo(engine, settings, now=NOW)
    assert len(_all(client, admin, "/api/v1/contributors")) == 2


def test_the_demo_command_says_why_it_refuses_and_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/lab.db"
    upgrade_database(url)
    assert run_cli("demo", database_url=url).returncode == 0
    line = one_line_error(run_cli("demo", database_url=url))
    assert line.startswith("labledger: this database already holds lab data (5 contributors")
    assert "the demo only fills an empty one" in line
    dispose_engines()
