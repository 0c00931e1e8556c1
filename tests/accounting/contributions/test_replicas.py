"""Contributions derived at close hold across two real service processes on one database.

Badge-ins, badge-outs, runs, re-tags and contribution reads are fired at both
processes at once, released together: every closed session and ended run ends
with exactly one contribution that says what a full re-derivation would, and
nothing is left queued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import func, select

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.tables import Contribution, ContributionPending
from app.api.keys import Role
from app.lab.activity import LabSession, MachineRun
from tests import factories
from tests.replicas import fire, post, replicas

MACHINES = 6


@pytest.fixture(scope="module")
def urls(database_url):
    """Two service processes on the suite's database, shared by this module's tests."""
    with replicas(database_url) as started:
        yield started


def _get(url: str, path: str, headers: dict[str, str]):
    return lambda: httpx2.get(f"{url}{path}", headers=headers, timeout=60)


def _event(url: str, kind: str, body: dict, headers: dict[str, str]):
    return lambda: post(url, f"/api/v1/events/{kind}", json=body, headers=headers)


def _patch(url: str, path: str, body: dict, headers: dict[str, str]):
    return lambda: httpx2.patch(f"{url}{path}", json=body, headers=headers, timeout=60)


def _all_ok(responses) -> None:
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]


def test_closings_retags_and_reads_on_two_replicas_derive_each_source_once(
    client, admin, key_for, urls, session
):
    device = key_for(Role.DEVICE)
    # Device times of the last few minutes: the replicas' sweeps close sessions left open
    # past their limit or idle past their timeout, measured from now.
    start = datetime.now(UTC) - timedelta(seconds=700)

    def at(seconds: int) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    products = [factories.product(client, admin) for _ in range(2)]
    for n in range(MACHINES):
        machine = factories.machine(client, admin, name=f"m{n}", adapter="lab", address=f"m{n}")
        factories.reader(client, admin, name=f"r{n}", machine_id=machine["id"])
        person = factories.contributor(client, admin, name=f"p{n}")
        factories.badge(client, admin, person["id"], f"00000001{n:02d}")

    def scan(n: int, seconds: int):
        body = {"reader": f"r{n}", "badge": f"00000001{n:02d}", "at": at(seconds)}
        return _event(urls[n % 2], "badge", body, device)

    def state(n: int, value: str, seconds: int):
        body = {"machine": f"m{n}", "state": value, "at": at(seconds)}
        return _event(urls[(n + 1) % 2], "machine", body, device)

    def reads():
        return [_get(url, "/api/v1/contributions", admin) for url in urls]

    _all_ok(
        fire(
            [scan(n, n) for n in range(MACHINES)]
            + [state(n, "running", 10) for n in range(MACHINES)]
        )
    )
    # Closings on both replicas at once, with reads (the read-side sync) racing them.
    _all_ok(
        fire(
            [scan(n, 600 + n) for n in range(MACHINES)]
            + [state(n, "finished", 400) for n in range(MACHINES)]
            + reads()
        )
    )
    sessions = session.execute(select(LabSession.id)).scalars().all()
    assert len(sessions) == MACHINES
    # Every session re-tagged from both replicas at once, to different products; no read
    # follows, so what the check below finds was derived by the re-tags' own commits.
    _all_ok(
        fire(
            [
                _patch(urls[n], f"/api/v1/sessions/{sid}", {"product_id": products[n]["id"]}, admin)
                for sid in sessions
                for n in (0, 1)
            ]
        )
    )

    session.expire_all()
    assert session.execute(select(func.count()).select_from(ContributionPending)).scalar_one() == 0
    rows = session.execute(select(Contribution)).scalars().all()
    by_source = {(row.source, row.source_id): row for row in rows}
    assert len(by_source) == len(rows) == 2 * MACHINES  # one per session and per run
    for lab_session in session.execute(select(LabSession)).scalars():
        row = by_source[("session", lab_session.id)]
        assert row.product_id == lab_session.product_id  # the re-tag that committed last
        assert row.quantity == 600_000  # badge-in at n s, badge-out at 600 + n s
    for run in session.execute(select(MachineRun)).scalars():
        row = by_source[("run", run.id)]
        assert row.product_id == run.product_id and row.quantity == 390_000
    assert sync_derived_contributions(session, full=True) == 0  # what a repair would make
