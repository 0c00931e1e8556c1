"""Lists page by keyset: following `next` visits every row once, in order, ties included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.crud import COUNT_CAP
from app.lab.activity import MachineRun
from tests import factories


def _walk(client, admin, path: str, limit: int) -> tuple[list[int], list[dict]]:
    """Follow `next` from the first page to the last; the ids seen and every page body."""
    ids: list[int] = []
    pages: list[dict] = []
    url = f"{path}{'&' if '?' in path else '?'}limit={limit}"
    body = client.get(url, headers=admin).json()
    while True:
        pages.append(body)
        ids += [item["id"] for item in body["items"]]
        if body["next"] is None:
            return ids, pages
        body = client.get(f"{url}&after={body['next']}", headers=admin).json()


def test_following_next_visits_every_contributor_once(client, admin):
    made = [factories.contributor(client, admin, name=f"Keyset Person {n}")["id"] for n in range(7)]
    ids, pages = _walk(client, admin, "/api/v1/contributors?name=Keyset", 3)
    assert ids == made
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert all(p["total"] == 7 for p in pages)


def test_runs_with_equal_start_times_page_in_order_without_loss(client, admin, session):
    machine = factories.machine(client, admin)
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    rows = [
        {
            "machine_id": machine["id"],
            "status": "ended",
            "started_at": start + timedelta(minutes=n // 3),  # three runs share each start
            "ended_at": start + timedelta(minutes=n // 3, seconds=30),
            "last_sample_at": start + timedelta(minutes=n // 3, seconds=30),
            "start_event_id": f"keyset-{n}",
        }
        for n in range(10)
    ]
    session.execute(insert(MachineRun), rows)
    session.commit()
    ids, _pages = _walk(client, admin, f"/api/v1/runs?machine_id={machine['id']}", 4)
    everything = client.get(
        f"/api/v1/runs?machine_id={machine['id']}&limit=100", headers=admin
    ).json()
    assert ids == [item["id"] for item in everything["items"]]
    assert len(set(ids)) == 10
    started = [item["started_at"] for item in everything["items"]]
    assert started == sorted(started, reverse=True)


def test_an_unknown_cursor_is_a_clear_error(client, admin):
    response = client.get("/api/v1/contributors?after=987654", headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"after": 987654}


def test_total_is_bounded_not_counted_over_a_whole_table(client, admin, session):
    machine = factories.machine(client, admin)
    start = datetime(2026, 4, 1, tzinfo=UTC)
    session.execute(
        insert(MachineRun),
        [
            {
                "machine_id": machine["id"],
                "status": "ended",
                "started_at": start + timedelta(seconds=n),
                "last_sample_at": start + timedelta(seconds=n),
                "start_event_id": f"bound-{n}",
            }
            for n in range(COUNT_CAP + 5)
        ],
    )
    session.commit()
    body = client.get(f"/api/v1/runs?machine_id={machine['id']}&limit=2", headers=admin).json()
    assert body["total"] is None
    assert body["next"] == body["items"][-1]["id"]
    few = client.get(f"/api/v1/runs?machine_id={machine['id']}&open=false", headers=admin).json()
    assert (few["total"], few["next"], few["items"]) == (0, None, [])
