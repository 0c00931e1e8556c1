"""Hourly rollups follow every change of runs and sessions and equal a full rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import delete, select

from app.lab.rollups import RunHour, SessionHour, rebuild
from tests.cli.support import run_cli
from tests.lab.conftest import T0


def _rows(session, model):
    session.expire_all()
    rows = session.exec(select(model)).all()
    names = [c.name for c in model.__table__.columns if c.name != "id"]
    return sorted(
        tuple(round(v, 6) if isinstance(v, float) else v for v in (getattr(r, n) for n in names))
        for r in rows
    )


def _hour(seconds: float) -> datetime:
    return (T0 + timedelta(seconds=seconds)).replace(minute=0, second=0, microsecond=0)


def test_runs_and_sessions_roll_up_by_the_hour_they_end_in(lab, session):
    lab.scan("0012771493", 0)
    lab.state("running", 60, job="a.gcode")
    lab.state("paused", 1800)
    lab.state("running", 2400)
    lab.state("finished", 3 * 3600 + 600, energy_wh=120.5, material=31.0)
    lab.scan("0012771493", 3 * 3600 + 900)
    runs = _rows(session, RunHour)
    assert len(runs) == 1
    (
        hour,
        machine,
        provider,
        operator,
        product,
        role,
        reason,
        count,
        busy,
        wall,
        energy,
        material,
    ) = runs[0]
    assert hour == _hour(3 * 3600)
    assert (machine, operator, reason, count) == (lab.printer["id"], lab.ada["id"], "finished", 1)
    assert busy == pytest.approx(3 * 3600 + 600 - 60 - 600)
    assert wall == pytest.approx(3 * 3600 + 600 - 60)
    assert (energy, material, role, product) == (120.5, 31.0, "maker", None)
    assert provider == 1
    sessions = _rows(session, SessionHour)
    assert len(sessions) == 1
    assert sessions[0][1] == lab.ada["id"]
    assert sessions[0][5:] == (1, pytest.approx(3 * 3600 + 900))


def test_assignment_and_out_of_order_events_move_the_rollup_and_match_a_rebuild(lab, session):
    lab.state("running", 0)
    lab.state("finished", 3600 + 60)
    run = lab.runs()[0]
    assert _rows(session, RunHour)[0][3] is None
    response = lab.client.post(
        f"/api/v1/runs/{run['id']}/assign",
        json={"operator_id": lab.bob["id"], "product_id": lab.product["id"]},
        headers=lab.admin,
    )
    assert response.status_code == 200, response.text
    moved = _rows(session, RunHour)
    assert [(r[3], r[4]) for r in moved] == [(lab.bob["id"], lab.product["id"])]
    # A late event from before the end refolds the run; the end moves to another hour.
    lab.state("finished", 1800)
    refolded = _rows(session, RunHour)
    assert [r[0] for r in refolded] == [_hour(0)]
    lab.scan("0000000042", 2 * 3600)
    lab.scan("0000000042", 4 * 3600 + 5)
    kept = (_rows(session, RunHour), _rows(session, SessionHour))
    counts = rebuild(session)
    assert counts == (len(kept[0]), len(kept[1]))
    assert (_rows(session, RunHour), _rows(session, SessionHour)) == kept


def test_rebuild_command_repairs_rows(lab, session, database_url):
    lab.state("running", 0)
    lab.state("finished", 600)
    kept = _rows(session, RunHour)
    session.exec(delete(RunHour))
    session.commit()
    assert _rows(session, RunHour) == []
    result = run_cli("rollups", "rebuild", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "1 run rows" in result.stdout
    assert _rows(session, RunHour) == kept
