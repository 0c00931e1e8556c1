"""Inductions gate badge-ins: granted by trainers, per machine or group, expiring, revoked."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import factories
from tests.lab.conftest import T0, at


def after_now() -> float:
    """Seconds from the lab's T0 to a minute from now (revocations are dated now)."""
    return (datetime.now(UTC) - T0).total_seconds() + 60


def test_an_inducted_badge_opens_a_session_and_a_stranger_is_denied_and_recorded(access_lab):
    lab = access_lab
    lab.induct(lab.ada, granted_at=at(-86400))
    assert lab.scan("0012771493", 0)["outcome"] == "opened"
    assert lab.scan("0000000042", 60)["outcome"] == "denied"

    denied = lab.get("denied-scans")["items"]
    assert [(d["reason"], d["contributor_id"]) for d in denied] == [("not_inducted", lab.bob["id"])]
    (session,) = lab.sessions()
    # Bob's denied scan ends Ada's session (a handover to nobody), opening none for Bob.
    assert (session["contributor_id"], session["close_reason"]) == (lab.ada["id"], "handover")


def test_an_expired_induction_is_denied_as_expired(access_lab):
    lab = access_lab
    lab.induct(lab.ada, granted_at=at(-7200), expires_at=at(-60))
    answer = lab.scan("0012771493", 0)
    assert (answer["outcome"], answer["reason"]) == ("denied", "expired")
    (denied,) = lab.get("denied-scans")["items"]
    assert denied["reason"] == "expired"
    assert lab.sessions() == []


def test_a_revoked_induction_is_denied_as_revoked_and_stays_on_record(access_lab):
    lab = access_lab
    induction = lab.induct(lab.ada, granted_at=at(-7200))
    revoked = lab.post(f"inductions/{induction['id']}/revoke", expect=200, reason="unsafe use")
    assert (revoked["status"], revoked["revoke_reason"]) == ("revoked", "unsafe use")
    lab.post(f"inductions/{induction['id']}/revoke", expect=409, reason="again")
    assert lab.scan("0012771493", 0)["outcome"] == "opened"  # before the revocation
    assert lab.scan("0012771493", 60)["outcome"] == "closed"
    assert lab.scan("0012771493", after_now())["outcome"] == "denied"
    assert lab.get("denied-scans", reason="revoked")["total"] == 1
    assert lab.get("inductions", contributor_id=lab.ada["id"])["total"] == 1


def test_an_unknown_card_is_denied_everywhere_and_kept_for_enrolment(access_lab):
    lab = access_lab
    assert lab.scan("0000099999", 0)["outcome"] == "unknown"
    assert lab.get("denied-scans")["items"][0]["reason"] == "unknown_card"
    assert lab.get("unknown-scans")["total"] == 1


def test_a_group_induction_covers_every_machine_of_the_group(access_lab, client, admin):
    lab = access_lab
    other = factories.machine(
        client, admin, name="Printer B", adapter="lab", address="printer-b", requires_induction=True
    )
    factories.reader(client, admin, name="reader-b", machine_id=other["id"])
    group = lab.post(
        "machine-groups", name="FDM printers", machine_ids=[lab.printer["id"], other["id"]]
    )
    assert sorted(group["machine_ids"]) == sorted([lab.printer["id"], other["id"]])
    # A machine trainer cannot induct on the whole group; a group trainer can.
    lab.post(
        "inductions",
        expect=409,
        contributor_id=lab.ada["id"],
        group_id=group["id"],
        trainer_id=lab.trainer["id"],
    )
    lab.post("trainers", contributor_id=lab.trainer["id"], group_id=group["id"])
    lab.post(
        "inductions",
        contributor_id=lab.ada["id"],
        group_id=group["id"],
        trainer_id=lab.trainer["id"],
        granted_at=at(-60),
    )
    assert lab.scan("0012771493", 0, reader="reader-b")["outcome"] == "opened"
    check = lab.get("access/check", contributor_id=lab.ada["id"], machine_id=lab.printer["id"])
    assert (check["allowed"], check["reason"]) == (True, None)
    lab.post(f"machine-groups/{group['id']}/deactivate", expect=200)
    check = lab.get("access/check", contributor_id=lab.ada["id"], machine_id=other["id"])
    assert (check["allowed"], check["reason"]) == (False, "not_inducted")


def test_only_a_trainer_inducts_and_bad_requests_are_clear_errors(access_lab):
    lab = access_lab
    body = {"contributor_id": lab.ada["id"], "machine_id": lab.printer["id"]}
    refused = lab.post("inductions", expect=409, trainer_id=lab.bob["id"], **body)
    assert "not a trainer" in refused["error"]["message"]
    both = lab.post("inductions", expect=422, trainer_id=lab.trainer["id"], group_id=1, **body)
    assert both["error"]["code"] == "invalid_input"
    backwards = lab.post(
        "inductions",
        expect=422,
        trainer_id=lab.trainer["id"],
        granted_at=at(0),
        expires_at=at(-1),
        **body,
    )
    assert "expires_at" in backwards["error"]["message"]


def test_a_machine_without_the_setting_admits_everyone_as_before(lab):
    assert lab.scan("0012771493", 0)["outcome"] == "opened"
    assert lab.get("denied-scans")["total"] == 0


def test_the_holder_of_the_session_can_always_badge_out(access_lab):
    lab = access_lab
    induction = lab.induct(lab.ada, granted_at=at(-60))
    # Opened shortly before the revocation (dated now), so the session is within its limit.
    assert lab.scan("0012771493", after_now() - 600)["outcome"] == "opened"
    lab.post(f"inductions/{induction['id']}/revoke", expect=200, reason="course expired")
    assert lab.scan("0012771493", after_now())["outcome"] == "closed"


def test_a_session_past_its_limit_is_over_and_the_next_scan_is_judged_as_a_badge_in(access_lab):
    lab = access_lab
    induction = lab.induct(lab.ada, granted_at=at(-60))
    assert lab.scan("0012771493", 0)["outcome"] == "opened"  # long before now: past 8 h
    lab.post(f"inductions/{induction['id']}/revoke", expect=200, reason="course expired")
    answer = lab.scan("0012771493", after_now())
    assert (answer["outcome"], answer["reason"]) == ("denied", "revoked")


def test_a_refused_card_held_at_the_reader_is_recorded_once(access_lab):
    lab = access_lab
    assert [lab.scan("0000000042", t)["outcome"] for t in (0, 1, 2, 30)] == [
        "denied",
        "debounced",
        "debounced",
        "denied",
    ]
    assert lab.get("denied-scans")["total"] == 2


def test_a_machine_out_of_service_refuses_every_badge_in(access_lab):
    lab = access_lab
    lab.induct(lab.ada, granted_at=at(-86400))
    lab.post(
        f"machines/{lab.printer['id']}/downtime",
        starts_at=at(-60),
        ends_at=at(600),
        reason="new hotend",
    )
    answer = lab.scan("0012771493", 0)
    assert (answer["outcome"], answer["reason"]) == ("denied", "out_of_service")
    (denied,) = lab.get("denied-scans", reason="out_of_service")["items"]
    assert denied["detail"] == "Printer A is out of service: new hotend"
    assert lab.scan("0012771493", 900)["outcome"] == "opened"  # the window is over
