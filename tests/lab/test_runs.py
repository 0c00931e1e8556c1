"""Machine runs: busy and wall time, endings, attribution, offline, order independence."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from sqlmodel import Session, select

from app.lab.activity import MachineRun
from app.lab.recorder import BatchOutcome, record_event
from app.lab.sessions import ScanRules
from devices.events import MachineState, RunState
from tests.lab.conftest import T0

ADA = "0012771493"
BOB = "0000000042"


def test_pause_is_not_busy_time(lab):
    lab.state("running", 0, job="bracket_v3")
    lab.state("paused", 600)
    lab.state("running", 900)
    lab.state("finished", 1500)
    (run,) = lab.runs()
    assert run["busy_s"] == 1200
    assert run["wall_s"] == 1500
    assert run["end_reason"] == "finished" and run["provenance"] == "measured"
    assert run["job"] == "bracket_v3"


def test_device_reported_duration_wins(lab):
    lab.state("running", 0)
    lab.state("finished", 3720.9, reported_busy_s=3601.2, material=1234.5)
    (run,) = lab.runs()
    assert run["busy_s"] == 3601.2 and run["provenance"] == "device_reported"
    assert run["material"] == 1234.5


def test_late_busy_report_corrects_the_ended_run(lab):
    lab.state("running", 0)
    lab.state("finished", 100)
    lab.state("finished", 101, reported_busy_s=95)
    (run,) = lab.runs()
    assert run["busy_s"] == 95 and run["provenance"] == "device_reported"


def test_failed_and_cancelled_endings_are_kept(lab):
    lab.state("running", 0)
    lab.state("failed", 50)
    lab.state("running", 100)
    lab.state("cancelled", 160)
    reasons = [run["end_reason"] for run in lab.runs()]
    assert reasons == ["cancelled", "failed"]


def test_idle_after_running_is_abandoned_for_a_printer(lab):
    lab.state("running", 0)
    lab.state("idle", 30)
    assert lab.runs()[0]["end_reason"] == "abandoned"


def test_run_belongs_to_the_open_session_and_outlives_it(lab):
    lab.scan(ADA, 0)
    lab.state("running", 10)
    lab.scan(ADA, 20)
    lab.state("finished", 8 * 3600)
    (run,) = lab.runs()
    assert run["operator_id"] == lab.ada["id"] and run["attribution"] == "session"
    assert run["busy_s"] == 8 * 3600 - 10


def test_badge_in_within_grace_claims_the_run(lab):
    lab.state("running", 0)
    assert lab.runs(unattributed=True)
    lab.scan(BOB, 120)
    (run,) = lab.runs()
    assert run["operator_id"] == lab.bob["id"] and run["attribution"] == "grace"


def test_badge_in_after_grace_leaves_the_run_for_review(lab):
    lab.state("running", 0)
    lab.scan(BOB, 3600)
    (run,) = lab.runs(unattributed=True)
    assigned = lab.client.post(
        f"/api/v1/runs/{run['id']}/assign",
        json={"operator_id": lab.ada["id"], "product_id": lab.product["id"]},
        headers=lab.admin,
    )
    assert assigned.status_code == 200
    assert assigned.json()["attribution"] == "manual"
    assert lab.runs(unattributed=True) == []
    assert lab.runs(product_id=lab.product["id"])[0]["operator_id"] == lab.ada["id"]


def test_offline_closes_the_run_at_the_last_good_sample(lab):
    lab.state("running", 0, job="cube")
    lab.state("running", 300, progress=40)
    lab.state("offline", 900)
    (run,) = lab.runs()
    assert run["end_reason"] == "offline"
    assert run["provenance"] == "closed_at_last_sample"
    assert run["flagged"] is True
    assert run["busy_s"] == 300 and run["wall_s"] == 300


def test_machine_back_already_running_continues_the_same_run(lab):
    lab.state("running", 0, job="cube")
    lab.state("running", 300, job="cube")
    lab.state("offline", 600)
    lab.state("running", 700, job="cube")
    lab.state("running", 710, job="cube")
    lab.state("finished", 1000)
    (run,) = lab.runs()
    assert run["end_reason"] == "finished" and run["flagged"] is True
    assert run["busy_s"] == 300 + 300


def test_repeated_running_does_not_open_a_second_run(lab):
    for second in range(0, 100, 10):
        lab.state("running", second, progress=second)
    assert len(lab.runs()) == 1
    state = lab.get(f"machines/{lab.printer['id']}/state")
    assert state["state"] == "running" and state["progress"] == 90


def test_machine_state_shows_run_operator_and_since(lab):
    lab.scan(ADA, 0)
    lab.state("running", 10, job="bracket")
    state = lab.get(f"machines/{lab.printer['id']}/state")
    assert state["operator_name"] == "Ada"
    assert state["job"] == "bracket"
    assert state["since"].startswith((T0 + timedelta(seconds=10)).isoformat()[:19])
    lab.state("finished", 70)
    done = lab.get(f"machines/{lab.printer['id']}/state")
    assert done["state"] == "finished" and done["run_id"] is None


def _sequence(machine_id: int) -> list[MachineState]:
    steps = [
        ("running", 0),
        ("paused", 100),
        ("running", 150),
        ("finished", 400),
        ("running", 500),
        ("offline", 700),
        ("running", 720),
        ("failed", 900),
    ]
    return [
        MachineState(
            str(machine_id),
            RunState(state),
            T0 + timedelta(seconds=s),
            f"ev-{i}",
            progress=float(i),
        )
        for i, (state, s) in enumerate(steps)
    ]


def _runs_summary(engine, machine_id):
    with Session(engine) as db:
        runs = db.exec(
            select(MachineRun)
            .where(MachineRun.machine_id == machine_id)
            .order_by(MachineRun.started_at)
        ).all()
        return [
            (r.started_at, r.ended_at, r.busy_s, r.end_reason, r.provenance, r.flagged)
            for r in runs
        ]


def _apply(engine, events):
    with Session(engine) as db:
        for event in events:
            record_event(db, event, "test", ScanRules(), BatchOutcome())
            db.commit()


def test_any_arrival_order_gives_the_same_runs(lab, engine):
    machine_id = lab.printer["id"]
    events = _sequence(machine_id)
    _apply(engine, events)
    expected = _runs_summary(engine, machine_id)
    assert [r[3] for r in expected] == ["finished", "failed"]
    orders = list(itertools.islice(itertools.permutations(events), 1, 40, 7))
    rng = random.Random(7)
    orders += [rng.sample(events, len(events)) for _ in range(10)]
    for order in orders:
        with Session(engine) as db:
            for run in db.exec(select(MachineRun)).all():
                db.delete(run)
            from app.lab.activity import DeviceEvent, MachineStatus

            for row in db.exec(select(DeviceEvent)).all():
                db.delete(row)
            status = db.get(MachineStatus, machine_id)
            (
                status.state,
                status.since,
                status.last_event_at,
                status.last_event_id,
                status.run_id,
            ) = "unknown", None, None, None, None
            db.commit()
        _apply(engine, order)
        assert _runs_summary(engine, machine_id) == expected, [e.event_id for e in order]


def test_late_event_keeps_manual_assignment(lab, engine):
    machine_id = lab.printer["id"]
    events = _sequence(machine_id)
    _apply(engine, events[:4] + events[5:])
    first = lab.runs()[-1]
    lab.client.post(
        f"/api/v1/runs/{first['id']}/assign", json={"operator_id": lab.bob["id"]}, headers=lab.admin
    )
    _apply(engine, [events[4]])
    again = lab.get(f"runs/{first['id']}")
    assert again["operator_id"] == lab.bob["id"] and again["attribution"] == "manual"
