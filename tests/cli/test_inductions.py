"""`labledger inductions ...` as a lab's operator runs it."""

from __future__ import annotations

from tests import factories
from tests.cli.support import run_cli


def test_an_operator_appoints_a_trainer_grants_checks_and_revokes_from_the_shell(
    database_url, client, admin
):
    factories.machine(
        client,
        admin,
        name="Laser",
        kind="laser",
        adapter="lab",
        address="laser",
        requires_induction=True,
    )
    factories.contributor(client, admin, name="Ada")
    factories.contributor(client, admin, name="Tess")

    def cli(*args):
        return run_cli("inductions", *args, database_url=database_url)

    assert cli("trainer", "--contributor", "Tess", "--machine", "Laser").returncode == 0
    granted = cli(
        "grant",
        "--contributor",
        "Ada",
        "--trainer",
        "Tess",
        "--machine",
        "Laser",
        "--expires",
        "2099-01-01",
        "--note",
        "fume extraction, focus, fire blanket",
    )
    assert granted.returncode == 0, granted.stderr
    induction_id = granted.stdout.split()[1]

    listed = cli("list", "--machine", "Laser")
    assert "Ada" in listed.stdout and "machine Laser" in listed.stdout
    assert listed.stdout.rstrip().endswith("valid")
    assert cli("check", "--contributor", "Ada", "--machine", "Laser").returncode == 0

    revoked = cli("revoke", induction_id, "--reason", "skipped the refresher")
    assert revoked.returncode == 0, revoked.stderr
    check = cli("check", "--contributor", "Ada", "--machine", "Laser")
    assert check.returncode == 1 and "revoked" in check.stdout
    missing = cli("check", "--contributor", "Nobody", "--machine", "Laser")
    assert missing.returncode == 2 and "no contributor 'Nobody'" in missing.stderr
