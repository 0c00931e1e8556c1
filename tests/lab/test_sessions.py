"""Badge sessions: open, badge out, handover, debounce, unknown cards, timeouts, offline, admin."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from app.lab.sessions import close_idle_sessions
from tests.lab.conftest import T0

ADA = "0012771493"
BOB = "0000000042"


def test_badge_in_opens_and_same_badge_closes(lab):
    assert lab.scan(ADA, 0)["outcome"] == "opened"
    assert lab.scan(ADA, 60)["outcome"] == "closed"
    (session,) = lab.sessions()
    assert session["contributor_id"] == lab.ada["id"]
    assert session["close_reason"] == "badge_out"
    assert session["closed_by"] == "Ada"


def test_any_form_of_the_card_opens_the_same_session(lab):
    lab.scan("0F00C2E0A5", 0)
    assert lab.scan(ADA, 30)["outcome"] == "closed"


def test_another_badge_hands_over(lab):
    lab.scan(ADA, 0)
    assert lab.scan(BOB, 120)["outcome"] == "handover"
    sessions = lab.sessions()
    bob, ada = sessions
    assert ada["close_reason"] == "handover" and ada["closed_by"] == "Bob"
    assert bob["contributor_id"] == lab.bob["id"] and bob["closed_at"] is None


def test_repeat_within_debounce_does_nothing(lab):
    lab.scan(ADA, 0)
    assert lab.scan(ADA, 2)["outcome"] == "debounced"
    (session,) = lab.sessions()
    assert session["closed_at"] is None


def test_redelivered_scan_is_recorded_once(lab):
    first = lab.scan(ADA, 0, id="scan-1")
    again = lab.scan(ADA, 0, id="scan-1")
    assert first["recorded"] is True and again["recorded"] is False
    assert len(lab.sessions()) == 1


def test_unknown_card_opens_nothing_and_is_listed_for_enrolment(lab):
    assert lab.scan("0000009999", 0)["outcome"] == "unknown"
    assert lab.sessions() == []
    (scan,) = lab.get("unknown-scans")["items"]
    assert scan["card_id"] == "0000009999" and scan["reason"] == "unknown"
    assert scan["reader_id"] == lab.reader["id"]


def test_revoked_card_opens_nothing(lab):
    badge = lab.get("badges", card_id=ADA)["items"][0]
    lab.client.post(f"/api/v1/badges/{badge['id']}/deactivate", headers=lab.admin)
    assert lab.scan(ADA, 0)["outcome"] == "unknown"
    assert lab.get("unknown-scans")["items"][0]["reason"] == "revoked"


def test_idle_machine_times_the_session_out(lab, engine):
    lab.scan(ADA, 0)
    timeout = lab.printer["idle_timeout_s"]
    with Session(engine) as db:
        assert close_idle_sessions(db, T0 + timedelta(seconds=timeout - 1)) == 0
        assert close_idle_sessions(db, T0 + timedelta(seconds=timeout + 5)) == 1
        db.commit()
    (session,) = lab.sessions()
    assert session["close_reason"] == "timeout"
    assert session["closed_at"].startswith((T0 + timedelta(seconds=timeout)).isoformat()[:19])


def test_a_late_badge_in_ends_a_session_the_sweep_closed_at_a_computed_time(lab, engine):
    # The sweep runs on the wall clock and closes at last activity + timeout; a
    # scan that arrives later (a bridge's outbox) may carry an earlier device time.
    lab.scan(ADA, 0)
    timeout = lab.printer["idle_timeout_s"]
    with Session(engine) as db:
        assert close_idle_sessions(db, T0 + timedelta(seconds=timeout + 5)) == 1
        db.commit()
    assert lab.scan(BOB, timeout / 2)["outcome"] == "opened"
    bob, ada = lab.sessions()
    assert ada["close_reason"] == "timeout"
    assert ada["closed_at"] <= bob["opened_at"], "two sessions of one machine overlap"
    assert ada["closed_at"].startswith((T0 + timedelta(seconds=timeout / 2)).isoformat()[:19])


def test_running_machine_keeps_its_session_open(lab, engine):
    lab.scan(ADA, 0)
    lab.state("running", 10)
    with Session(engine) as db:
        assert close_idle_sessions(db, T0 + timedelta(hours=10)) == 0


def test_machine_going_offline_closes_the_session(lab):
    lab.scan(ADA, 0)
    lab.state("offline", 50)
    (session,) = lab.sessions()
    assert session["close_reason"] == "offline" and session["closed_by"] == "system"


def test_operator_closes_a_session(lab):
    from datetime import UTC, datetime

    lab.scan(ADA, (datetime.now(UTC) - T0).total_seconds() - 60)
    session = lab.sessions()[0]
    closed = lab.client.post(f"/api/v1/sessions/{session['id']}/close", headers=lab.admin)
    assert closed.json()["close_reason"] == "admin"


def test_an_operator_closing_a_session_past_its_limit_flags_it(lab):
    lab.scan(ADA, 0)  # months ago
    session = lab.sessions()[0]
    closed = lab.client.post(f"/api/v1/sessions/{session['id']}/close", headers=lab.admin)
    assert closed.json()["close_reason"] == "max_length" and closed.json()["flagged"] is True
    again = lab.client.post(f"/api/v1/sessions/{session['id']}/close", headers=lab.admin)
    assert again.status_code == 409


def test_reader_bound_to_a_product_tags_sessions(lab):
    lab.client.patch(
        f"/api/v1/readers/{lab.reader['id']}",
        json={"product_id": lab.product["id"]},
        headers=lab.admin,
    )
    lab.scan(ADA, 0)
    assert lab.sessions()[0]["product_id"] == lab.product["id"]


def test_last_product_at_the_machine_is_reused(lab):
    lab.scan(ADA, 0)
    first = lab.sessions()[0]
    lab.client.patch(
        f"/api/v1/sessions/{first['id']}", json={"product_id": lab.product["id"]}, headers=lab.admin
    )
    lab.scan(ADA, 60)
    lab.scan(ADA, 600)
    assert lab.sessions(open=True)[0]["product_id"] == lab.product["id"]


def test_door_reader_toggles_presence(lab, client, admin):
    from tests import factories

    factories.reader(client, admin, name="door")
    assert lab.scan(ADA, 0, reader="door")["outcome"] == "opened"
    assert lab.scan(BOB, 5, reader="door")["outcome"] == "opened"
    assert lab.scan(ADA, 3600, reader="door")["outcome"] == "closed"
    open_sessions = lab.sessions(open=True)
    assert [s["contributor_id"] for s in open_sessions] == [lab.bob["id"]]
    assert open_sessions[0]["machine_id"] is None


def test_sessions_filter_by_contributor_and_time(lab):
    lab.scan(ADA, 0)
    lab.scan(BOB, 100)
    assert len(lab.sessions(contributor_id=lab.ada["id"])) == 1
    assert len(lab.sessions(since=(T0 + timedelta(seconds=50)).isoformat())) == 1


def test_bad_events_are_422_not_500(lab):
    bad = [
        {"reader": "reader-a", "badge": "not a card"},
        {"reader": "reader-a", "badge": ADA, "extra": 1},
        {"reader": "reader-a", "badge": ADA, "at": "yesterday"},
    ]
    for body in bad:
        response = lab.client.post("/api/v1/events/badge", json=body, headers=lab.device)
        assert response.status_code == 422, (body, response.text)
    missing = lab.client.post(
        "/api/v1/events/badge", json={"reader": "nope", "badge": ADA}, headers=lab.device
    )
    assert missing.status_code == 404
    wrong_state = lab.client.post(
        "/api/v1/events/machine",
        json={"machine": "Printer A", "state": "exploded"},
        headers=lab.device,
    )
    assert wrong_state.status_code == 422
    assert "state" in wrong_state.json()["error"]["message"]
