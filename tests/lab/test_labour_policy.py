"""Labour is bounded by policy: session limits, review flags, and a grace window for live runs."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from app.lab.sessions import ScanRules, close_overlong_sessions
from tests import factories
from tests.lab.conftest import T0

ADA = "0012771493"
HOUR = 3600


def test_a_badge_in_after_a_run_finished_does_not_claim_it(lab):
    lab.state("running", 0)
    lab.state("finished", 120)
    lab.scan(ADA, 300)  # within the grace window of the start, but the run is over
    (run,) = lab.runs()
    assert run["operator_id"] is None and run["attribution"] is None


def test_a_badge_in_during_a_run_still_claims_it(lab):
    lab.state("running", 0)
    lab.scan(ADA, 300)
    lab.state("finished", 900)
    (run,) = lab.runs()
    assert run["operator_id"] == lab.ada["id"] and run["attribution"] == "grace"


def test_a_late_event_does_not_let_a_later_badge_in_claim_a_finished_run(lab):
    lab.state("running", 0)
    lab.scan(ADA, 300)
    lab.state("finished", 120)  # arrives late: the run is refolded and ended before the badge
    (run,) = lab.runs()
    assert run["operator_id"] is None


def test_a_forgotten_door_badge_out_is_closed_at_the_limit_and_flagged(lab, engine):
    door = factories.reader(lab.client, lab.admin, name="door")
    lab.scan(ADA, 0, reader="door")
    with Session(engine) as db:  # the service's periodic sweep may have got there first
        close_overlong_sessions(db, T0 + timedelta(hours=72), ScanRules())
        db.commit()
    (session,) = lab.sessions()
    assert session["reader_id"] == door["id"] and session["close_reason"] == "max_length"
    assert session["flagged"] is True and "12 h" in session["flag_reason"]
    assert session["closed_at"].startswith((T0 + timedelta(hours=12)).isoformat()[:19])


def test_a_badge_out_days_later_closes_the_stale_session_flagged_and_opens_a_new_one(lab):
    factories.reader(lab.client, lab.admin, name="door")
    lab.scan(ADA, 0, reader="door")
    assert lab.scan(ADA, 72 * HOUR, reader="door")["outcome"] == "opened"
    new, stale = lab.sessions()
    assert stale["flagged"] is True and stale["close_reason"] == "max_length"
    assert new["closed_at"] is None and new["flagged"] is False


def test_an_overnight_session_at_a_running_machine_is_capped_flagged_and_not_counted(lab):
    lab.scan(ADA, 0)
    lab.state("running", 60)
    # Badge-out next morning: the print ran all night. Past the limit, it is a new badge-in.
    assert lab.scan(ADA, 10 * HOUR)["outcome"] == "opened"
    session = lab.sessions()[-1]
    assert session["flagged"] is True and session["close_reason"] == "max_length"
    sync = lab.client.post("/api/v1/contributions/sync", headers=lab.admin)
    assert sync.status_code == 200, sync.text
    (labour,) = lab.get("contributions", kind="labour")["items"]
    assert labour["status"] == "pending" and labour["quantity"] == 8 * HOUR * 1000


def test_a_machine_can_have_its_own_session_limit(lab):
    response = lab.client.patch(
        f"/api/v1/machines/{lab.printer['id']}", json={"max_session_s": HOUR}, headers=lab.admin
    )
    assert response.status_code == 200 and response.json()["max_session_s"] == HOUR
    lab.scan(ADA, 0)
    lab.scan(ADA, 2 * HOUR)
    _new, session = lab.sessions()
    assert session["flagged"] is True and session["closed_at"].startswith(
        (T0 + timedelta(hours=1)).isoformat()[:19]
    )
    assert lab.scan(ADA, 2 * HOUR + 1800)["outcome"] == "closed"
    short = lab.sessions()[0]
    assert short["flagged"] is False and short["close_reason"] == "badge_out"
    sync = lab.client.post("/api/v1/contributions/sync", headers=lab.admin)
    assert sync.status_code == 200
    statuses = sorted(c["status"] for c in lab.get("contributions", kind="labour")["items"])
    assert statuses == ["approved", "pending"]


def test_a_session_limit_out_of_bounds_is_refused(lab):
    response = lab.client.patch(
        f"/api/v1/machines/{lab.printer['id']}", json={"max_session_s": 10}, headers=lab.admin
    )
    assert response.status_code == 422
