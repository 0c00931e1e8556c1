"""Hourly rollups follow every change of runs and sessions and equal a full rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import delete, select

from app.accounting.figures import queries as figures
from app.lab import stats
from app.lab.periods import Period
from app.lab.rollup_days import ContributorDay, MachineDay, ProductDay
from app.lab.rollups import RunHour, SessionHour, rebuild
from app.lab.stats import Filters
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


def _days(session):
    return tuple(_rows(session, model) for model in (MachineDay, ContributorDay, ProductDay))


def _across_midnight(lab) -> None:
    """Ada works into the night; one run ends before midnight, one after; Bob badges next day."""
    lab.scan("0012771493", 13 * 3600)
    lab.state("running", 13 * 3600 + 60)
    lab.state("finished", 14 * 3600 + 30 * 60)  # 23:30
    lab.state("running", 14 * 3600 + 40 * 60)
    lab.state("finished", 16 * 3600)  # 01:00 the next day
    lab.scan("0012771493", 16 * 3600 + 60)
    lab.scan("0000000042", 24 * 3600)
    lab.scan("0000000042", 26 * 3600)


def test_daily_rollups_follow_every_change_and_match_a_rebuild(lab, session):
    _across_midnight(lab)
    machines, people, products = _days(session)
    assert [(r[0].day, r[2]) for r in machines] == [(2, 1), (3, 1)]  # (day of month, runs)
    ada = {r[0].day: r[2:5] for r in people if r[1] == lab.ada["id"]}
    assert ada == {2: (0, 0.0, 1), 3: (1, pytest.approx(3 * 3600 + 60), 1)}  # session closes on 3rd
    run = next(r for r in lab.runs() if r["ended_at"].startswith("2026-03-03"))
    response = lab.client.post(
        f"/api/v1/runs/{run['id']}/assign",
        json={"operator_id": lab.bob["id"], "product_id": lab.product["id"]},
        headers=lab.admin,
    )
    assert response.status_code == 200, response.text
    machines, people, products = _days(session)
    bob = {r[0].day: r for r in people if r[1] == lab.bob["id"]}
    assert bob[3][4] == 1 and bob[3][2] == 1  # the run moved to Bob, beside his session
    assert [(r[0].day, r[1]) for r in products] == [(3, lab.product["id"])]
    kept = _days(session)
    rebuild(session)
    assert _days(session) == kept


@pytest.mark.parametrize("by", list(Period))
def test_whole_days_from_the_daily_rollups_equal_the_hourly_sums(lab, session, monkeypatch, by):
    _across_midnight(lab)
    f = Filters(T0 - timedelta(days=2, hours=3), T0 + timedelta(days=3, hours=5), by)
    assert stats.day_span(f) is not None
    daily = (
        stats.machine_hours(session, f),
        stats.contributor_hours(session, f),
        figures.product_figures(session, f),
    )
    monkeypatch.setattr(stats, "day_span", lambda _f: None)
    monkeypatch.setattr(figures, "day_span", lambda _f: None)
    hourly = (
        stats.machine_hours(session, f),
        stats.contributor_hours(session, f),
        figures.product_figures(session, f),
    )
    assert daily == hourly
    first = {"day": "2026-02-28", "week": "2026-02-23", "month": "2026-02-01", "year": "2026-01-01"}
    assert min(r.period for r in daily[0]) == first[by.value]
    assert sum(r.runs for r in daily[0]) == 2
    assert sum(r.labour_s for r in daily[1]) > 0
