"""Members, machines and readers as CSV: a dry run changes nothing, problems stop the whole
import, and export then import round-trips."""

from __future__ import annotations

from sqlmodel import Session, create_engine, func, select

from app.db import dispose_engines, upgrade_database
from app.lab.models import Badge, Contributor
from app.roster.equipment import export_machines, export_readers, plan_machines, plan_readers
from app.roster.members import export_members, plan_members
from tests import factories
from tests.cli.support import run_cli

MEMBERS = """name,email,display_name,role,badges,payout_details
Ada Lovelace,ada@lab.example,Ada,designer,0012771493,IBAN DE00 1234
Grace Hopper,,,maker,0F00C2E0A6 04A224B2C35E80,
"""


def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_import_members_dry_run_reports_the_changes_and_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/lab.db"
    upgrade_database(url)
    (tmp_path / "members.csv").write_text(MEMBERS)
    dry = run_cli("import", "members", str(tmp_path / "members.csv"), "--dry-run", database_url=url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "row 2: add contributor 'Ada Lovelace'",
        "row 2: enrol badge 0012771493 for 'Ada Lovelace'",
        "row 3: add contributor 'Grace Hopper'",
        "row 3: enrol badge 0012771494 for 'Grace Hopper'",
        "row 3: enrol badge uid:04A224B2C35E80 for 'Grace Hopper'",
        "dry run: 5 change(s), 0 row(s) unchanged; nothing was written",
    ]
    exported = run_cli("export", "members", database_url=url)
    assert exported.stdout == "name,email,display_name,role,badges,payout_details\n"
    done = run_cli("import", "members", str(tmp_path / "members.csv"), database_url=url)
    assert done.stdout.splitlines()[-1] == "imported members.csv: 5 change(s), 0 row(s) unchanged"
    again = run_cli("import", "members", str(tmp_path / "members.csv"), database_url=url)
    assert again.stdout.splitlines() == ["imported members.csv: 0 change(s), 2 row(s) unchanged"]
    dispose_engines()


def test_a_problem_anywhere_stops_the_whole_import(session, client, admin):
    someone = factories.contributor(client, admin, name="Someone")
    factories.badge(client, admin, someone["id"], "0012771493")
    text = (
        "name,email,badges\n"
        "New Person,new@lab.example,\n"
        "Ada,not-an-email,\n"
        "Bob,,0012771493\n"
        "Cy,,not a card!\n"
    )
    plan = plan_members(session, text)
    assert len(plan.problems) == 5, plan.problems
    assert plan.problems[0].startswith("row 3: email: String should match pattern")
    assert plan.problems[1].startswith(
        f"row 4: badge 0012771493 is enrolled to contributor {someone['id']} (badge "
    )
    assert "move it with PATCH /api/v1/badges/" in plan.problems[1]
    assert plan.problems[2:] == [
        "row 5: badge 'not' is not a card number",
        "row 5: badge 'a' is not a card number",
        "row 5: badge 'card!' is not a card number",
    ]
    before = _count(session, Contributor)
    result_unknown = plan_members(session, "name,nickname\nAda,ada\n")
    assert result_unknown.problems == [
        "unknown column(s) nickname; the columns are "
        "name, email, display_name, role, badges, payout_details"
    ]
    assert _count(session, Contributor) == before


def test_export_then_import_round_trips_members_machines_and_readers(
    session, client, admin, tmp_path
):
    ada = factories.contributor(client, admin, name="Ada", email="ada@lab.example", role="designer")
    factories.badge(client, admin, ada["id"], "0012771493")
    printer = factories.machine(client, admin, name="X1C", provider_id=ada["id"])
    factories.machine(
        client,
        admin,
        name="Laser",
        kind="laser",
        adapter="tasmota",
        address="laser-plug",
        running_threshold_w=40,
    )
    product = factories.product(client, admin, "KIT-1", name="Sensor kit")
    factories.reader(
        client, admin, name="x1c-reader", machine_id=printer["id"], product_id=product["id"]
    )
    factories.reader(client, admin, name="door")
    exports = (export_members(session), export_machines(session), export_readers(session))
    assert "Ada,ada@lab.example,Ada,designer,0012771493," in exports[0]
    assert "X1C,printer,bambu," in exports[1] and ",Ada," in exports[1]
    assert "x1c-reader,mqtt,,X1C,Sensor kit" in exports[2]

    other = f"sqlite:///{tmp_path}/other.db"
    upgrade_database(other)
    with Session(create_engine(other)) as fresh:
        plan_members(fresh, exports[0]).apply(fresh)
        plan_machines(fresh, exports[1]).apply(fresh)
        readers = plan_readers(fresh, exports[2])
        assert readers.problems == ["row 2: no active product named 'Sensor kit'"]
        assert export_members(fresh) == exports[0]
        assert export_machines(fresh) == exports[1]
    assert _count(session, Badge) == 1
    same = plan_machines(session, exports[1])
    assert (same.changes, same.problems, same.unchanged) == ([], [], 2)
    same_readers = plan_readers(session, exports[2])
    assert (same_readers.changes, same_readers.problems, same_readers.unchanged) == ([], [], 2)
    dispose_engines()
