"""The lists made fast for a million rows still answer the same: order, children, cursors, totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.accounting.payouts.tables import PayoutBatch, PayoutItem
from app.accounting.sales.tables import Sale, SaleLine
from app.lab.access.models import DeniedScan, Induction, PowerCommand
from app.lab.activity import MachineRun
from tests import factories
from tests.api.test_keyset_pages import _walk

START = datetime(2026, 5, 1, 8, tzinfo=UTC)


def test_unattributed_runs_page_by_keyset_in_order_and_skip_attributed_ones(client, admin, session):
    machine = factories.machine(client, admin)
    person = factories.contributor(client, admin)
    rows = [
        {
            "machine_id": machine["id"],
            "status": "ended",
            "started_at": START + timedelta(minutes=n // 2),  # pairs share a start
            "last_sample_at": START + timedelta(minutes=n // 2),
            "operator_id": person["id"] if n % 3 == 0 else None,
            "start_event_id": f"unattributed-{n}",
        }
        for n in range(11)
    ]
    session.execute(insert(MachineRun), rows)
    session.commit()
    ids, pages = _walk(client, admin, "/api/v1/runs?unattributed=true", 3)
    everything = client.get("/api/v1/runs?unattributed=true&limit=100", headers=admin).json()
    assert ids == [item["id"] for item in everything["items"]]
    assert len(ids) == 7 and len(set(ids)) == 7
    assert all(item["operator_id"] is None for item in everything["items"])
    keys = [(item["started_at"], item["id"]) for item in everything["items"]]
    assert keys == sorted(keys, reverse=True)
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert all(p["total"] == 7 for p in pages)


def test_sales_list_gives_each_sale_its_own_lines_in_position_order(client, admin, session):
    sales = session.execute(
        insert(Sale).returning(Sale.id),
        [
            {
                "provider": "stripe",
                "order_key": f"lines-{n}",
                "currency": "EUR",
                "currency_exponent": 2,
                "occurred_at": START + timedelta(minutes=n),
                "gross_minor": 1000 * (n + 1),
                "fees_minor": 0,
                "refunded_minor": 0,
                "held": False,
                "reference": "",
                "test": False,
                "created_at": START,
            }
            for n in range(4)
        ],
    ).scalars()
    sale_ids = list(sales)
    lines = [
        {
            "sale_id": sale_id,
            "position": position,
            "description": f"sale {sale_id} line {position}",
            "quantity": 1,
            "gross_minor": 100,
            "fee_minor": 0,
            "net_minor": 100,
            "refunded_minor": 0,
        }
        # Inserted out of position order, and sale 2 (index 1) has no lines at all.
        for index, sale_id in enumerate(sale_ids)
        if index != 1
        for position in (2, 0, 1)[: index + 1]
    ]
    session.execute(insert(SaleLine), lines)
    session.commit()
    body = client.get("/api/v1/sales?limit=3", headers=admin).json()
    listed = {item["id"]: item for item in body["items"]}
    assert list(listed) == sale_ids[::-1][:3]
    for index, sale_id in enumerate(sale_ids):
        if sale_id not in listed:
            continue
        got = listed[sale_id]["lines"]
        assert all(line["sale_id"] == sale_id for line in got)
        assert [line["position"] for line in got] == sorted(
            (2, 0, 1)[: index + 1] if index != 1 else []
        )
        single = client.get(f"/api/v1/sales/{sale_id}", headers=admin).json()
        assert single["lines"] == got
    rest = client.get(f"/api/v1/sales?limit=3&after={body['next']}", headers=admin).json()
    assert [item["id"] for item in rest["items"]] == [sale_ids[0]]
    assert [line["position"] for line in rest["items"][0]["lines"]] == [2]


def test_payout_list_gives_each_batch_its_own_items(client, admin, session):
    people = [factories.contributor(client, admin)["id"] for _ in range(3)]
    batches = list(
        session.execute(
            insert(PayoutBatch).returning(PayoutBatch.id),
            [
                {
                    "currency": "EUR",
                    "minimum_minor": 0,
                    "status": "open",
                    "created_at": START,
                    "created_by": "test",
                }
                for _ in range(3)
            ],
        ).scalars()
    )
    items = [
        {
            "batch_id": batch,
            "contributor_id": person,
            "amount_minor": 100 * (b + 1) + p,
            "reference": f"b{batch}-p{person}",
        }
        for b, batch in enumerate(batches)
        for p, person in reversed(list(enumerate(people[: b + 1])))
    ]
    session.execute(insert(PayoutItem), items)
    session.commit()
    body = client.get("/api/v1/payouts?limit=2", headers=admin).json()
    assert [item["id"] for item in body["items"]] == batches[::-1][:2]
    for item in body["items"]:
        index = batches.index(item["id"])
        assert [i["contributor_id"] for i in item["items"]] == sorted(people[: index + 1])
        assert all(i["reference"].startswith(f"b{item['id']}-") for i in item["items"])
        single = client.get(f"/api/v1/payouts/{item['id']}", headers=admin).json()
        assert single["items"] == item["items"]
    rest = client.get(f"/api/v1/payouts?limit=2&after={body['next']}", headers=admin).json()
    assert [b["id"] for b in rest["items"]] == [batches[0]]
    assert len(rest["items"][0]["items"]) == 1


def test_access_lists_page_by_keyset_newest_first(client, admin, session):
    machine = factories.machine(client, admin)
    reader = factories.reader(client, admin)
    trainer = factories.contributor(client, admin)
    person = factories.contributor(client, admin)
    session.execute(
        insert(Induction),
        [
            {
                "contributor_id": person["id"],
                "machine_id": machine["id"],
                "trainer_id": trainer["id"],
                "granted_at": START + timedelta(minutes=n // 2),
                "note": "",
                "recorded_at": START,
                "recorded_by": "test",
            }
            for n in range(7)
        ],
    )
    session.execute(
        insert(DeniedScan),
        [
            {
                "event_id": f"denied-{n}",
                "reader_id": reader["id"],
                "machine_id": machine["id"],
                "card_id": "04AABB",
                "contributor_id": person["id"],
                "reason": "not_inducted",
                "detail": "",
                "at": START + timedelta(minutes=n // 2),
            }
            for n in range(7)
        ],
    )
    session.execute(
        insert(PowerCommand),
        [
            {
                "machine_id": machine["id"],
                "want_on": n % 2 == 0,
                "reason": "session",
                "status": "confirmed",
                "requested_at": START,
                "not_before": START,
                "attempts": 1,
                "detail": "",
            }
            for n in range(7)
        ],
    )
    session.commit()
    for path, key in (
        (f"/api/v1/inductions?contributor_id={person['id']}", "granted_at"),
        (f"/api/v1/denied-scans?machine_id={machine['id']}", "at"),
        (f"/api/v1/denied-scans?contributor_id={person['id']}", "at"),
        (f"/api/v1/power-commands?machine_id={machine['id']}", None),
    ):
        ids, pages = _walk(client, admin, path, 3)
        everything = client.get(f"{path}&limit=100", headers=admin).json()["items"]
        assert ids == [item["id"] for item in everything], path
        assert len(set(ids)) == 7, path
        order = [(item[key], item["id"]) if key else item["id"] for item in everything]
        assert order == sorted(order, reverse=True), path  # type: ignore[type-var]
        assert [p["total"] for p in pages] == [7, 7, 7], path


def test_trainers_and_groups_page_by_keyset(client, admin):
    groups = [
        client.post(
            "/api/v1/machine-groups", json={"name": f"keyset group {n}"}, headers=admin
        ).json()["id"]
        for n in range(5)
    ]
    ids, pages = _walk(client, admin, "/api/v1/machine-groups?active=true", 2)
    assert ids == groups
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    people = [factories.contributor(client, admin)["id"] for _ in range(4)]
    made = [
        client.post(
            "/api/v1/trainers", json={"contributor_id": p, "group_id": groups[0]}, headers=admin
        ).json()["id"]
        for p in people
    ]
    ids, _pages = _walk(client, admin, f"/api/v1/trainers?group_id={groups[0]}", 3)
    assert ids == made
