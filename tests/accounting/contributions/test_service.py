"""Contributions: derived from real sessions and runs, entered by hand, approved, excluded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from app.accounting.contributions.service import (
    contributions_up_to,
    counted_contributions,
    sync_derived_contributions,
)
from app.accounting.contributions.tables import Contribution
from app.accounting.engine.equation import ContributionKind
from app.accounting.products.tables import Product
from app.api.keys import Role
from app.lab.activity import LabSession
from app.lab.models import COMMONS_FUND_ID
from tests import factories
from tests.lab.conftest import T0, Lab

ADA = "0012771493"
BOB = "0000000042"
NOW = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture
def lab(client, admin, key_for):
    return Lab(client, admin, key_for(Role.DEVICE))


def derived(session, source):
    session.expire_all()
    return session.exec(select(Contribution).where(Contribution.source == source)).all()


def tag_session(lab, session_id, product_id):
    response = lab.client.patch(
        f"/api/v1/sessions/{session_id}", json={"product_id": product_id}, headers=lab.admin
    )
    assert response.status_code == 200, response.text


def add(client, headers, **body):
    return client.post("/api/v1/contributions", json=body, headers=headers)


def added(client, headers, **body):
    response = add(client, headers, **body)
    assert response.status_code == 201, response.text
    return response.json()


# --- derived from sessions and runs ---------------------------------------------


def test_closed_session_gives_approved_labour_in_the_session_role(lab, session):
    lab.scan(ADA, 0)
    lab.scan(ADA, 5400.25)
    lab.scan(BOB, 6000)  # still open: counts for nothing yet
    (row,) = derived(session, "session")  # derived as the session closed, no sync needed
    assert row.kind == "labour" and row.unit == "ms"
    assert row.quantity == 5_400_250  # 1 h 30 min 0.25 s, exactly
    assert row.contributor_id == lab.ada["id"] and row.role == "maker"
    assert row.status == "approved" and row.product_id is None
    assert row.occurred_at == T0 + timedelta(seconds=5400.25)
    assert sync_derived_contributions(session) == 0  # nothing was left queued


def test_run_busy_time_not_wall_time_is_credited_to_the_machine_provider(lab, session):
    funder = factories.contributor(lab.client, lab.admin, name="Funder")
    laser = factories.machine(
        lab.client,
        lab.admin,
        name="Laser",
        kind="laser",
        adapter="lab",
        address="laser-a",
        provider_id=funder["id"],
    )
    lab.state("running", 0, machine="Laser")
    lab.state("paused", 600, machine="Laser")
    lab.state("running", 900, machine="Laser")
    lab.state("finished", 1500, machine="Laser")
    lab.state("running", 2000, machine="Laser")  # still running: not yet a contribution
    sync_derived_contributions(session)
    (row,) = derived(session, "run")
    assert row.kind == "machine"
    assert row.quantity == 1_200_000  # 1200 s busy, not the 1500 s of wall time
    assert row.contributor_id == funder["id"]
    assert row.machine_id == laser["id"] and row.machine_kind == "laser"
    assert row.status == "approved"


def test_run_on_a_commons_machine_credits_the_commons_fund(lab, session):
    lab.scan(ADA, 0)
    lab.state("running", 10)
    lab.state("finished", 70)
    sync_derived_contributions(session)
    (row,) = derived(session, "run")
    assert row.contributor_id == COMMONS_FUND_ID and row.quantity == 60_000


def test_retagging_a_session_moves_its_labour_and_its_runs(lab, session):
    other = factories.product(lab.client, lab.admin, "CASE-R1")
    lab.scan(ADA, 0)
    lab.state("running", 60)
    lab.state("finished", 3660)
    lab.scan(ADA, 3700)
    (lab_session,) = lab.sessions()
    tag_session(lab, lab_session["id"], lab.product["id"])
    first = contributions_up_to(session, lab.product["id"], NOW)
    assert sorted(c.kind for c in first) == ["labour", "machine"]

    tag_session(lab, lab_session["id"], other["id"])
    assert sync_derived_contributions(session) == 0  # moved as the re-tag committed
    assert contributions_up_to(session, lab.product["id"], NOW) == []
    moved = contributions_up_to(session, other["id"], NOW)
    assert {(c.kind, c.quantity) for c in moved} == {
        (ContributionKind.LABOUR, Fraction(3700, 3600)),
        (ContributionKind.MACHINE, Fraction(3600, 3600)),
    }
    assert len(derived(session, "session")) == 1 and len(derived(session, "run")) == 1


def test_assigning_a_run_moves_its_machine_hours(lab, session):
    lab.state("running", 0)
    lab.state("finished", 1800)
    (run,) = lab.runs()
    assert derived(session, "run")[0].product_id is None
    response = lab.client.post(
        f"/api/v1/runs/{run['id']}/assign",
        json={"operator_id": lab.bob["id"], "product_id": lab.product["id"]},
        headers=lab.admin,
    )
    assert response.status_code == 200
    (row,) = derived(session, "run")  # moved as the assignment committed
    assert row.product_id == lab.product["id"]
    assert row.contributor_id == COMMONS_FUND_ID  # the provider, not the operator


def test_a_late_busy_report_corrects_the_machine_hours(lab, session):
    lab.state("running", 0)
    lab.state("finished", 100)
    assert derived(session, "run")[0].quantity == 100_000
    lab.state("finished", 101, reported_busy_s=95.5)
    assert derived(session, "run")[0].quantity == 95_500


def test_sync_is_idempotent(lab, session):
    lab.scan(ADA, 0)
    lab.state("running", 5)
    lab.state("finished", 65)
    lab.scan(ADA, 120)
    before = [row.model_dump() for row in derived(session, "session") + derived(session, "run")]
    assert len(before) == 2
    assert sync_derived_contributions(session) == 0
    assert sync_derived_contributions(session, full=True) == 0
    after = [row.model_dump() for row in derived(session, "session") + derived(session, "run")]
    assert after == before


def test_an_excluded_derived_contribution_stays_excluded(lab, session):
    lab.scan(ADA, 0)
    lab.scan(ADA, 600)
    (lab_session,) = lab.sessions()
    tag_session(lab, lab_session["id"], lab.product["id"])
    (row,) = lab.get("contributions", source="session")["items"]
    excluded = lab.client.post(
        f"/api/v1/contributions/{row['id']}/exclude",
        json={"reason": "paid by the grant"},
        headers=lab.admin,
    )
    assert excluded.status_code == 200, excluded.text
    assert excluded.json()["status"] == "excluded"
    assert excluded.json()["reason"] == "paid by the grant"

    other = factories.product(lab.client, lab.admin)
    tag_session(lab, lab_session["id"], other["id"])
    (again,) = derived(session, "session")
    assert again.status == "excluded" and again.product_id == other["id"]
    assert contributions_up_to(session, other["id"], NOW) == []
    again_exclude = lab.client.post(
        f"/api/v1/contributions/{row['id']}/exclude", json={"reason": "x"}, headers=lab.admin
    )
    assert again_exclude.status_code == 409


def test_listing_syncs_and_filters(lab):
    lab.scan(ADA, 0)
    lab.state("running", 5)
    lab.state("finished", 65)
    lab.scan(ADA, 120)
    added(lab.client, lab.admin, contributor_id=lab.bob["id"], kind="design", hours="1")
    everything = lab.get("contributions")
    assert everything["total"] == 3
    assert [c["source"] for c in lab.get("contributions", source="run")["items"]] == ["run"]
    assert lab.get("contributions", kind="design")["items"][0]["status"] == "pending"
    assert lab.get("contributions", status="approved")["total"] == 2
    assert lab.get("contributions", contributor_id=lab.ada["id"])["total"] == 1
    assert lab.get("contributions", product_id=lab.product["id"])["total"] == 0
    assert lab.get("contributions", limit=1, offset=1)["items"][0]["id"] in {
        c["id"] for c in everything["items"]
    }
    bad = lab.client.get("/api/v1/contributions?kind=nap", headers=lab.admin)
    assert bad.status_code == 422


# --- entered by hand --------------------------------------------------------------


def test_manual_labour_counts_only_once_approved(client, admin, approver, session):
    ada = factories.contributor(client, admin, name="Ada", role="designer")
    product = factories.product(client, admin)
    body = added(
        client,
        admin,
        contributor_id=ada["id"],
        product_id=product["id"],
        kind="labour",
        hours="2.5",
        note="assembly jig",
    )
    assert body["status"] == "pending" and body["source"] == "manual"
    assert body["quantity"] == 9_000_000 and body["unit"] == "ms"
    assert body["role"] == "designer" and body["display"] == "2:30:00 h"
    assert contributions_up_to(session, product["id"], NOW) == []

    approved = client.post(f"/api/v1/contributions/{body['id']}/approve", headers=approver)
    assert approved.status_code == 200
    assert approved.json()["decided_by"].startswith("key:")
    (counted,) = contributions_up_to(session, product["id"], NOW)
    assert counted.quantity == Fraction(5, 2) and counted.role == "designer"
    twice = client.post(f"/api/v1/contributions/{body['id']}/approve", headers=approver)
    assert twice.status_code == 409
    assert "approved" in twice.json()["error"]["message"]


def test_reject_keeps_the_reason_and_never_counts(client, admin, approver, session):
    ada = factories.contributor(client, admin)
    product = factories.product(client, admin)
    body = added(
        client,
        admin,
        contributor_id=ada["id"],
        product_id=product["id"],
        kind="money",
        amount="12.34",
        currency="eur",
    )
    assert body["quantity"] == 1234 and body["currency"] == "EUR"
    assert body["display"] == "12.34 EUR"
    rejected = client.post(
        f"/api/v1/contributions/{body['id']}/reject",
        json={"reason": "no receipt"},
        headers=admin,
    )
    assert rejected.json()["status"] == "rejected"
    read = client.get(f"/api/v1/contributions/{body['id']}", headers=admin).json()
    assert read["reason"] == "no receipt" and read["status"] == "rejected"
    assert (
        client.post(f"/api/v1/contributions/{body['id']}/approve", headers=approver).status_code
        == 409
    )
    assert contributions_up_to(session, product["id"], NOW) == []


def test_quantities_are_stored_exactly_in_their_units(client, admin):
    ada = factories.contributor(client, admin)
    cases = [
        ({"kind": "documentation", "hours": "0.0001"}, 360, "ms"),
        ({"kind": "materials", "amount": "1500", "currency": "JPY"}, 1500, "minor"),
        ({"kind": "money", "amount": "0.125", "currency": "KWD"}, 125, "minor"),
        ({"kind": "citation", "revision": "board r2", "points": "2.5"}, 2500, "millipoint"),
        ({"kind": "citation", "revision": "board r2", "percent": "7.25"}, 725, "basis_point"),
    ]
    for fields, quantity, unit in cases:
        body = added(client, admin, contributor_id=ada["id"], **fields)
        assert (body["quantity"], body["unit"]) == (quantity, unit), fields


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"kind": "labour", "hours": "2.55555"}, "hours"),
        ({"kind": "labour", "hours": "0"}, "more than zero"),
        ({"kind": "labour", "hours": 2.5}, "hours"),
        ({"kind": "money", "amount": "12.345", "currency": "EUR"}, "decimals"),
        ({"kind": "money", "amount": "1.5", "currency": "JPY"}, "decimals"),
        ({"kind": "money", "amount": "10", "currency": "XYZ"}, "currency"),
        ({"kind": "money", "amount": "-10", "currency": "EUR"}, "amount"),
        ({"kind": "citation", "revision": "r1"}, "exactly one"),
        ({"kind": "citation", "revision": "r1", "points": "1", "percent": "1"}, "exactly one"),
        ({"kind": "citation", "percent": "100", "revision": "r1"}, "percent"),
        ({"kind": "citation", "points": "1"}, "revision"),
        ({"kind": "machine", "hours": "1"}, "kind"),
        ({"kind": "labour", "hours": "1", "amount": "3"}, "amount"),
        ({"kind": "labour", "hours": "1", "occurred_at": "2999-01-01T00:00:00Z"}, "future"),
        ({"kind": "labour", "hours": "1", "occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
    ],
)
def test_bad_manual_contributions_are_422_naming_the_problem(client, admin, fields, fragment):
    ada = factories.contributor(client, admin)
    response = add(client, admin, contributor_id=ada["id"], **fields)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]["message"]


def test_references_that_do_not_exist_are_404(client, admin):
    ada = factories.contributor(client, admin)
    missing_person = add(client, admin, contributor_id=987654, kind="design", hours="1")
    assert missing_person.status_code == 404
    missing_product = add(
        client, admin, contributor_id=ada["id"], product_id=987654, kind="design", hours="1"
    )
    assert missing_product.status_code == 404
    assert client.get("/api/v1/contributions/987654", headers=admin).status_code == 404
    assert client.post("/api/v1/contributions/987654/approve", headers=admin).status_code == 404


def test_viewers_read_and_only_operators_and_admins_write(client, admin, key_for):
    ada = factories.contributor(client, admin)
    body = {"contributor_id": ada["id"], "kind": "design", "hours": "1"}
    viewer, operator, device = key_for(Role.VIEWER), key_for(Role.OPERATOR), key_for(Role.DEVICE)
    assert add(client, viewer, **body).status_code == 403
    row = added(client, operator, **body)
    assert client.get("/api/v1/contributions", headers=viewer).status_code == 200
    assert client.get("/api/v1/contributions", headers=device).status_code == 403
    assert (
        client.post(f"/api/v1/contributions/{row['id']}/approve", headers=viewer).status_code == 403
    )
    assert client.post("/api/v1/contributions/sync", headers=viewer).status_code == 403
    assert (
        client.post(f"/api/v1/contributions/{row['id']}/approve", headers=operator).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/contributions/{row['id']}/approve", headers=admin).status_code == 200
    )


def test_only_contributions_up_to_the_moment_count(client, admin, approver, session):
    ada = factories.contributor(client, admin)
    product = factories.product(client, admin)
    for when, hours in (("2026-01-10T12:00:00Z", "1"), ("2026-02-10T12:00:00+01:00", "2")):
        row = added(
            client,
            admin,
            contributor_id=ada["id"],
            product_id=product["id"],
            kind="design",
            hours=hours,
            occurred_at=when,
        )
        client.post(f"/api/v1/contributions/{row['id']}/approve", headers=approver)
    # 12:00+01:00 is 11:00 UTC: counted from that moment on, not a second before.
    cut = datetime(2026, 2, 10, 10, 59, 59, tzinfo=UTC)
    assert [c.quantity for c in contributions_up_to(session, product["id"], cut)] == [1]
    on_time = cut + timedelta(seconds=1)
    assert [c.quantity for c in contributions_up_to(session, product["id"], on_time)] == [1, 2]
    assert [c.quantity for c in contributions_up_to(session, product["id"], NOW)] == [1, 2]


def test_citations_and_money_the_equation_cannot_read_are_left_out(
    client, admin, approver, session
):
    ada = factories.contributor(client, admin)
    product = factories.product(client, admin)
    rows = [
        added(client, admin, contributor_id=ada["id"], product_id=product["id"], **fields)
        for fields in (
            {"kind": "citation", "revision": "r1", "points": "4"},
            {"kind": "citation", "revision": "r1", "percent": "5"},
            {"kind": "money", "amount": "10.00", "currency": "EUR"},
            {"kind": "money", "amount": "10.00", "currency": "USD"},
        )
    ]
    for row in rows:
        client.post(f"/api/v1/contributions/{row['id']}/approve", headers=approver)
    points, percent, eur, usd = (row["id"] for row in rows)
    counted = counted_contributions(session, product["id"], NOW, currency="EUR")
    assert counted.left_out == [percent, usd]
    assert [(c.kind, c.quantity) for c in counted.inputs] == [
        (ContributionKind.CITATION, Fraction(4)),
        (ContributionKind.MONEY, Fraction(1000)),
    ]
    as_percent = counted_contributions(session, product["id"], NOW, citation_mode="percent")
    assert as_percent.left_out == [points]
    assert as_percent.inputs[0].quantity == Fraction(5)
    assert eur not in as_percent.left_out


def test_session_role_is_used_else_the_contributors(lab, session):
    lab.scan(ADA, 0)
    lab.scan(ADA, 60)
    lab.scan(BOB, 100)
    lab.scan(BOB, 160)
    ada_session, bob_session = sorted(session.exec(select(LabSession)).all(), key=lambda s: s.id)
    ada_session.role = "trainer"
    bob_session.role = None  # e.g. a door session recorded without one
    session.commit()  # any Session's commit derives what it changed
    roles = {row.contributor_id: row.role for row in derived(session, "session")}
    assert roles == {lab.ada["id"]: "trainer", lab.bob["id"]: "maker"}
    ada_session.role = "mentor"
    session.commit()
    roles = {row.contributor_id: row.role for row in derived(session, "session")}
    assert roles[lab.ada["id"]] == "mentor"


def test_contributions_up_to_leaves_the_callers_transaction_to_the_caller(lab, session, engine):
    lab.scan(ADA, 0)
    lab.scan(ADA, 60)
    with engine.begin() as bare:  # behind the service's back: queued, not derived yet
        bare.execute(text("DELETE FROM contribution"))
        bare.execute(text("UPDATE lab_session SET closed_at = closed_at"))
    session.add(Product(name="uncommitted work of the caller"))
    contributions_up_to(session, lab.product["id"], NOW)
    session.rollback()
    with Session(engine) as other:
        assert other.exec(select(Product).where(Product.name.startswith("uncommitted"))).all() == []
        assert other.exec(select(Contribution)).all() == []
    assert sync_derived_contributions(session) == 1


def test_approval_needs_a_second_person(client, admin, key_for):
    ada = factories.contributor(client, admin)
    first, second = key_for(Role.OPERATOR), key_for(Role.OPERATOR)
    row = added(client, first, contributor_id=ada["id"], kind="design", hours="2")
    own = client.post(f"/api/v1/contributions/{row['id']}/approve", headers=first)
    assert own.status_code == 403
    error = own.json()["error"]
    assert "approval needs a second person" in error["message"]
    assert "admin or another operator" in error["message"]
    assert client.get(f"/api/v1/contributions/{row['id']}", headers=admin).json()["status"] == (
        "pending"
    )
    other = client.post(f"/api/v1/contributions/{row['id']}/approve", headers=second)
    assert other.status_code == 200 and other.json()["status"] == "approved"
    own_admin = added(client, admin, contributor_id=ada["id"], kind="design", hours="1")
    assert (
        client.post(f"/api/v1/contributions/{own_admin['id']}/approve", headers=admin).status_code
        == 403
    )
    rejected = client.post(
        f"/api/v1/contributions/{own_admin['id']}/reject",
        json={"reason": "typed twice"},
        headers=admin,
    )
    assert rejected.status_code == 200  # withdrawing one's own entry needs nobody else


def test_counted_inputs_follow_every_change_to_the_rows_they_were_built_from(lab, session):
    # The inputs built from a product's grouped rows are kept and reused while the rows
    # are equal: an edit, a new row or a rejection must still show in the next read.
    product = factories.product(lab.client, lab.admin, "KEPT-R1")
    people = [factories.contributor(lab.client, lab.admin) for _ in range(3)]
    when = NOW - timedelta(days=3)
    rows = [
        Contribution(
            contributor_id=person["id"],
            product_id=product["id"],
            kind="labour",
            quantity=(n + 1) * 3_600_000,
            unit="ms",
            source="manual",
            status="approved",
            occurred_at=when,
            created_by="test",
            decided_by="test",
            decided_at=when,
        )
        for n, person in enumerate(people)
    ]
    session.add_all(rows)
    session.commit()

    def hours() -> dict[int, Fraction]:
        counted = counted_contributions(session, product["id"], NOW, grouped=True)
        return {i.contributor_id: i.quantity for i in counted.inputs}

    first = hours()
    assert first == {p["id"]: Fraction(n + 1) for n, p in enumerate(people)}
    assert hours() == first  # read again from the same rows
    rows[0].quantity = 5_400_000
    session.commit()
    assert hours()[people[0]["id"]] == Fraction(3, 2)
    rows[1].status = "rejected"
    session.commit()
    assert people[1]["id"] not in hours()
    session.add(
        Contribution(
            contributor_id=people[2]["id"],
            product_id=product["id"],
            kind="labour",
            quantity=1_800_000,
            unit="ms",
            source="manual",
            status="approved",
            occurred_at=when,
            created_by="test",
            decided_by="test",
            decided_at=when,
        )
    )
    session.commit()
    assert hours() == {people[0]["id"]: Fraction(3, 2), people[2]["id"]: Fraction(7, 2)}
