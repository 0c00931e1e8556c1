"""Hourly rollups follow every change of runs and sessions and equal a full rebuild."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, delete, select, update

from app.accounting.figures import queries as figures
from app.lab import rollup_reads as reads
from app.lab import rollups, stats
from app.lab.activity import EndReason, LabSession, MachineRun
from app.lab.models import MachineCreate
from app.lab.periods import Period, bucket_start
from app.lab.rollup_days import ContributorDay, MachineDay, ProductDay
from app.lab.rollup_months import ContributorMonth, MachineMonth, ProductMonth, month_of
from app.lab.rollup_years import (
    ContributorYear,
    MachineYear,
    ProductYear,
    rebuild_years,
    year_of,
)
from app.lab.rollups import (
    RunHour,
    SessionHour,
    hour_of,
    rebuild,
    refresh_run_slices,
    refresh_session_slices,
    refresh_slices,
)
from app.lab.service import create_machine
from app.lab.stats import Filters
from tests.cli.support import run_cli
from tests.lab.conftest import T0


def _rows(session, model):
    session.expire_all()
    rows = session.exec(select(model)).all()
    names = [c.name for c in model.__table__.columns if c.name != "id"]
    found = [
        tuple(round(v, 6) if isinstance(v, float) else v for v in (getattr(r, n) for n in names))
        for r in rows
    ]
    return sorted(found, key=lambda row: tuple((v is None, v or 0) for v in row))


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
    for r in [*daily[1], *hourly[1]]:  # plain numbers for the JSON, on every database
        assert [type(v) for v in (r.sessions, r.operated_runs)] == [int, int]
        assert {type(v) for v in (r.labour_s, r.operated_busy_s, r.machine_credit_s)} == {float}
    first = {"day": "2026-02-28", "week": "2026-02-23", "month": "2026-02-01", "year": "2026-01-01"}
    assert min(r.period for r in daily[0]) == first[by.value]
    assert sum(r.runs for r in daily[0]) == 2
    assert sum(r.labour_s for r in daily[1]) > 0


def _scatter(session, lab, rng: random.Random) -> None:
    """Hundreds of ended runs and closed sessions on a dozen machines over two days, and a
    few a year earlier, with and without operator, product and role."""
    machines = [lab.printer["id"]]
    for n in range(11):
        machine = create_machine(
            session, MachineCreate(name=f"m{n}", kind="printer", adapter="lab", address=f"m{n}")
        )
        machines.append(machine.id)
    people = [None, lab.ada["id"], lab.bob["id"]]
    products = [None, lab.product["id"]]
    reasons = [reason.value for reason in EndReason]
    for n in range(900):
        back = timedelta(days=365) if n % 150 == 0 else timedelta(0)
        end = T0 - back + timedelta(seconds=rng.randint(0, 48 * 3600))
        session.add(
            MachineRun(
                machine_id=rng.choice(machines),
                status="ended",
                started_at=end - timedelta(seconds=rng.randint(1, 7200)),
                ended_at=end,
                last_sample_at=end,
                start_event_id=f"scatter-{n}",
                busy_s=float(rng.randint(0, 7200)),
                end_reason=rng.choice(reasons),
                operator_id=rng.choice(people),
                product_id=rng.choice(products),
                energy_wh=rng.choice([None, float(rng.randint(1, 99))]),
            )
        )
    for n in range(300):
        close = T0 - (timedelta(days=365) if n % 100 == 0 else timedelta(0))
        close += timedelta(seconds=rng.randint(0, 48 * 3600))
        session.add(
            LabSession(
                contributor_id=rng.choice(people[1:]),
                machine_id=rng.choice([None, *machines]),
                product_id=rng.choice(products),
                role=rng.choice([None, "maker", "steward"]),
                opened_at=close - timedelta(seconds=rng.randint(1, 9000)),
                closed_at=close,
                last_activity_at=close,
            )
        )
    session.commit()


def _months(session):
    return tuple(_rows(session, model) for model in (MachineMonth, ContributorMonth, ProductMonth))


def _years(session):
    return tuple(_rows(session, model) for model in (MachineYear, ContributorYear, ProductYear))


def _all_rollups(session):
    return (
        _rows(session, RunHour),
        _rows(session, SessionHour),
        *_days(session),
        *_months(session),
        *_years(session),
    )


def test_many_slices_refreshed_in_one_call_equal_a_rebuild(lab, session):
    _scatter(session, lab, random.Random(10))
    run_slices = {(r.machine_id, hour_of(r.ended_at)) for r in session.exec(select(MachineRun))}
    people = {(s.contributor_id, hour_of(s.closed_at)) for s in session.exec(select(LabSession))}
    assert len(run_slices) > 400  # more than one chunk of keys, and a year apart
    # Stale rows a refresh must mend or take away: every day row, a slice with no run left
    # in it (and the days it gave Bob and the product), an operator a slice no longer has.
    empty = (lab.printer["id"], T0 + timedelta(days=30))
    session.add(
        RunHour(hour=empty[1], machine_id=empty[0], operator_id=lab.bob["id"],
                product_id=lab.product["id"], runs=1, busy_s=5.0, wall_s=5.0,
                energy_wh=0.0, material=0.0)
    )  # fmt: skip
    stale = session.exec(select(RunHour).where(col(RunHour.operator_id).is_(None))).first()
    stale.operator_id = lab.ada["id"]
    day = T0.replace(hour=0) + timedelta(days=30)
    session.add(
        ContributorDay(day=day, contributor_id=lab.bob["id"], sessions=0, labour_s=0.0,
                       operated_runs=1, operated_busy_s=5.0, machine_credit_s=0.0)
    )  # fmt: skip
    session.add(ProductDay(day=day, product_id=lab.product["id"], labour_s=0.0, machine_s=5.0))
    for model, column in (
        (MachineDay, "busy_s"),
        (ContributorDay, "labour_s"),
        (MachineYear, "busy_s"),
        (ProductYear, "machine_s"),
    ):
        session.exec(update(model).values({column: -1.0}))  # every day and year row wrong
    session.commit()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", count)
    refresh_run_slices(session, {*run_slices, (empty[0], hour_of(empty[1]))})
    refresh_session_slices(session, people)
    event.remove(connection, "before_cursor_execute", count)
    session.commit()
    # A few per chunk of nearby keys (here five spans of days, three of months and one of
    # years), not a few per slice (thousands).
    assert 0 < len(statements) <= 110
    refreshed = _all_rollups(session)
    assert not [r for r in refreshed[0] if r[0] == hour_of(empty[1])]
    rebuild(session)
    assert _all_rollups(session) == refreshed


def test_a_transaction_recomputes_its_slices_once_at_commit(lab, session, monkeypatch):
    lab.state("running", 0)
    lab.state("finished", 3600 + 60)
    run = session.exec(select(MachineRun)).one()
    calls: list[set[tuple[int, datetime]]] = []
    real = rollups.refresh_slices

    def spy(db, runs, sessions):
        calls.append(set(runs))
        real(db, runs, sessions)

    monkeypatch.setattr(rollups, "refresh_slices", spy)
    ends = [run.ended_at]
    for _ in range(3):  # three flushes in one transaction, each moving the end an hour on
        run.ended_at = run.ended_at + timedelta(hours=1)
        ends.append(run.ended_at)
        session.flush()
    run.operator_id = lab.bob["id"]
    session.flush()
    assert calls == []
    session.commit()
    assert calls == [{(run.machine_id, hour_of(end)) for end in ends}]
    kept = _rows(session, RunHour)
    assert [(r[0], r[3]) for r in kept] == [(hour_of(ends[-1]), lab.bob["id"])]
    rebuild(session)
    assert _rows(session, RunHour) == kept
    # A rolled-back change is not recomputed, at its rollback or at the next commit.
    calls.clear()
    run = session.exec(select(MachineRun)).one()
    run.ended_at = run.ended_at + timedelta(hours=5)
    session.flush()
    session.rollback()
    session.commit()
    assert calls == []
    assert _rows(session, RunHour) == kept


def _summed_by(levels, bucket_of):
    """The rows of the next coarser level as `levels` (finer rows) say, summed here in Python."""
    expected = []
    for rows in levels:
        summed: dict[tuple, list] = {}
        for moment, owner, *values in rows:
            key = (bucket_of(moment), owner)
            summed[key] = (
                [round(a + b, 6) for a, b in zip(summed[key], values, strict=True)]
                if (key in summed)
                else list(values)
            )
        expected.append(sorted((*key, *values) for key, values in summed.items()))
    return tuple(expected)


def _days_summed_by_month(session):
    return _summed_by(_days(session), month_of)


def _months_summed_by_year(session):
    return _summed_by(_months(session), year_of)


def _around_month_end(
    session, lab, rng: random.Random, month_end: datetime = datetime(2026, 3, 1, tzinfo=T0.tzinfo)
) -> tuple[set, set]:
    """Runs and sessions ending on both sides of the midnight starting `month_end`
    (by default between February and March)."""
    people = [None, lab.ada["id"], lab.bob["id"]]
    for n in range(60):
        end = month_end + timedelta(seconds=rng.randint(-30 * 3600, 30 * 3600))
        session.add(
            MachineRun(machine_id=lab.printer["id"], status="ended", ended_at=end,
                       started_at=end - timedelta(seconds=rng.randint(1, 7200)),
                       last_sample_at=end, start_event_id=f"month-end-{month_end:%Y%m}-{n}",
                       busy_s=float(rng.randint(0, 7200)), end_reason="finished",
                       operator_id=rng.choice(people),
                       product_id=rng.choice([None, lab.product["id"]]))
        )  # fmt: skip
    for _ in range(30):
        close = month_end + timedelta(seconds=rng.randint(-30 * 3600, 30 * 3600))
        session.add(
            LabSession(contributor_id=rng.choice(people[1:]), product_id=lab.product["id"],
                       opened_at=close - timedelta(seconds=rng.randint(1, 9000)),
                       closed_at=close, last_activity_at=close)
        )  # fmt: skip
    session.commit()
    runs = {(r.machine_id, hour_of(r.ended_at)) for r in session.exec(select(MachineRun))}
    sessions = {(s.contributor_id, hour_of(s.closed_at)) for s in session.exec(select(LabSession))}
    return runs, sessions


def test_month_rows_follow_changes_across_a_month_end_and_match_a_rebuild(lab, session):
    runs, sessions = _around_month_end(session, lab, random.Random(11))
    refresh_run_slices(session, runs)
    refresh_session_slices(session, sessions)
    session.commit()
    months = _months(session)
    assert {r[0].month for r in months[0]} == {2, 3}  # both months have rows
    assert months == _days_summed_by_month(session)
    # Assign the unattributed runs to Bob and move one run from March into February.
    march = datetime(2026, 3, 1, tzinfo=T0.tzinfo)
    moved = session.exec(select(MachineRun).where(col(MachineRun.ended_at) >= march)).first()
    before = {(moved.machine_id, hour_of(moved.ended_at))}
    moved.ended_at = moved.last_sample_at = datetime(2026, 2, 27, 12, tzinfo=T0.tzinfo)
    changed = session.exec(select(MachineRun).where(col(MachineRun.operator_id).is_(None))).all()
    assert changed
    for run in changed:
        run.operator_id = lab.bob["id"]
    session.commit()
    slices = {(r.machine_id, hour_of(r.ended_at)) for r in [moved, *changed]} | before
    refresh_run_slices(session, slices)
    session.commit()
    refreshed = _months(session)
    assert refreshed != months
    assert refreshed == _days_summed_by_month(session)
    rebuild(session)
    assert _months(session) == refreshed


def test_year_rows_follow_changes_across_a_year_end_and_match_a_rebuild(lab, session):
    new_year = datetime(2026, 1, 1, tzinfo=T0.tzinfo)
    runs, sessions = _around_month_end(session, lab, random.Random(14), new_year)
    refresh_run_slices(session, runs)
    refresh_session_slices(session, sessions)
    session.commit()
    years = _years(session)
    assert {r[0].year for r in years[0]} == {2025, 2026}  # both years have rows
    assert {r[0].year for r in years[2]} == {2025, 2026}
    assert years == _months_summed_by_year(session)
    assert _months(session) == _days_summed_by_month(session)
    # Assign the unattributed runs to Bob and move one run from January into December.
    moved = session.exec(select(MachineRun).where(col(MachineRun.ended_at) >= new_year)).first()
    before = {(moved.machine_id, hour_of(moved.ended_at))}
    moved.ended_at = moved.last_sample_at = datetime(2025, 12, 30, 12, tzinfo=T0.tzinfo)
    changed = session.exec(select(MachineRun).where(col(MachineRun.operator_id).is_(None))).all()
    assert changed
    for run in changed:
        run.operator_id = lab.bob["id"]
    session.commit()
    slices = {(r.machine_id, hour_of(r.ended_at)) for r in [moved, *changed]} | before
    refresh_run_slices(session, slices)
    session.commit()
    refreshed = _years(session)
    assert refreshed != years
    assert refreshed[0] != years[0] and refreshed[1] != years[1]  # machine and Bob moved
    assert refreshed == _months_summed_by_year(session)
    rebuild(session)
    assert _years(session) == refreshed


def test_runs_and_sessions_refreshed_together_rebuild_their_days_once(lab, session):
    runs, sessions = _around_month_end(session, lab, random.Random(5))
    rebuild(session)
    expected = _all_rollups(session)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", count)
    refresh_run_slices(session, runs)
    alone = len([s for s in statements if s.startswith("DELETE FROM contributor_day")])
    statements.clear()
    refresh_slices(session, runs, sessions)
    event.remove(connection, "before_cursor_execute", count)
    session.commit()
    # The sessions' contributors join the runs' in the same day statements, not a second pass.
    assert alone > 0
    assert len([s for s in statements if s.startswith("DELETE FROM contributor_day")]) == alone
    assert _all_rollups(session) == expected


@pytest.mark.parametrize("by", [Period.MONTH, Period.YEAR])
def test_whole_months_and_years_from_the_coarser_rollups_equal_the_hourly_sums(
    lab, session, monkeypatch, by
):
    _scatter(session, lab, random.Random(12))
    _around_month_end(session, lab, random.Random(13))
    _around_month_end(session, lab, random.Random(15), datetime(2026, 1, 1, tzinfo=T0.tzinfo))
    rebuild(session)
    f = Filters(T0 - timedelta(days=800, hours=5), T0 + timedelta(days=3, hours=2), by)
    months = reads.month_span(f, reads.day_span(f))
    assert months is not None
    whole_years = (datetime(2024, 1, 1, tzinfo=T0.tzinfo), datetime(2026, 1, 1, tzinfo=T0.tzinfo))
    assert reads.year_span(f, months) == (whole_years if by == Period.YEAR else None)

    def read():
        return (
            stats.machine_hours(session, f),
            stats.contributor_hours(session, f),
            figures.product_figures(session, f),
        )

    coarsest = read()
    monkeypatch.setattr(reads, "year_span", lambda _f, _months: None)
    monthly = read()
    monkeypatch.setattr(reads, "month_span", lambda _f, _span: None)
    daily = read()
    monkeypatch.setattr(stats, "day_span", lambda _f: None)
    monkeypatch.setattr(figures, "day_span", lambda _f: None)
    hourly = read()
    assert coarsest == monthly == daily == hourly
    assert sum(r.runs for r in coarsest[0]) == 900 + 60 + 60
    assert sum(r.sessions for r in coarsest[1]) == 300 + 30 + 30
    assert sum(r.machine_s for r in coarsest[2]) > 0
    periods = {r.period for r in coarsest[0]}
    assert len(periods) == {"month": 28, "year": 4}[by.value]  # Dec 2023 .. Mar 2026
    assert "2025-01-01" in periods


def _per_owner(rows, owner, names):
    summed: dict[int, list] = {}
    for row in rows:
        values = [getattr(row, name) for name in names]
        key = getattr(row, owner)
        summed[key] = (
            [a + b for a, b in zip(summed[key], values, strict=True)] if (key in summed) else values
        )
    return {key: [round(v, 3) for v in values] for key, values in summed.items()}


@pytest.mark.parametrize("by", [Period.DAY, Period.YEAR])
def test_totals_are_the_sums_of_the_buckets_per_owner(lab, session, by):
    _scatter(session, lab, random.Random(17))
    _around_month_end(session, lab, random.Random(18), datetime(2026, 1, 1, tzinfo=T0.tzinfo))
    f = Filters(T0 - timedelta(days=800, hours=5), T0 + timedelta(days=3, hours=2), by)
    whole = replace(f, totals=True)
    machines = ["runs", "busy_s", "available_s", "energy_wh", "finished", "failed"]
    people = ["sessions", "labour_s", "operated_runs", "operated_busy_s", "machine_credit_s"]
    for read, owner, names in (
        (stats.machine_hours, "machine_id", machines),
        (stats.contributor_hours, "contributor_id", people),
    ):
        buckets, totals = read(session, f), read(session, whole)
        assert len(totals) == len({getattr(r, owner) for r in totals})  # one row per owner
        assert {r.period for r in totals} == {bucket_start(f.since, by).date().isoformat()}
        assert _per_owner(totals, owner, names) == _per_owner(buckets, owner, names)
        assert sum(getattr(r, names[0]) for r in totals) > 0


def test_rebuild_years_from_month_rows_gives_the_refreshed_rows(lab, session):
    _scatter(session, lab, random.Random(16))
    kept = _years(session)
    assert kept[0] and kept[1] and kept[2]
    rebuild_years(session.connection())
    assert _years(session) == kept
