"""The invariants checked after every step, against the database and the model."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.accounting.ledger.postings import account_balances
from app.accounting.payouts.service import balances
from app.accounting.sales.tables import Split, SplitShare, WebhookDelivery
from app.lab.activity import DecodeReject, DeviceEvent, LabSession, UnknownScan
from tests.reliability.simulation.model import Model

CURRENCIES = ("EUR", "JPY")


def device_events_settled(engine: Engine, model: Model) -> bool:
    """Whether ingest has caught up: every expected event and reject is in."""
    with Session(engine) as db:
        events = db.exec(select(func.count()).select_from(DeviceEvent)).one()
        rejects = db.exec(select(func.count()).select_from(DecodeReject)).one()
    return events >= len(model.device_events) and rejects >= model.device_rejects


def check_devices(engine: Engine, model: Model) -> None:
    """Every event sent recorded exactly once; every broken frame kept as one reject."""
    with Session(engine) as db:
        ids = Counter(db.exec(select(DeviceEvent.event_id)).all())
        rejects = db.exec(select(func.count()).select_from(DecodeReject)).one()
        unknown = db.exec(select(func.count()).select_from(UnknownScan)).one()
    twice = {i: n for i, n in ids.items() if n > 1}
    assert not twice, f"device events recorded more than once: {twice}"
    missing = model.device_events - set(ids)
    extra = set(ids) - model.device_events
    assert not missing, f"{len(missing)} device events lost, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} device events nobody sent, e.g. {sorted(extra)[:3]}"
    assert rejects == model.device_rejects, f"rejects: {rejects}, sent {model.device_rejects}"
    assert unknown == model.unknown_scans, f"unknown scans: {unknown}, sent {model.unknown_scans}"


def check_sessions(engine: Engine) -> None:
    """Sessions of one machine never overlap, and at most one is open."""
    with Session(engine) as db:
        rows = db.exec(
            select(LabSession)
            .where(col(LabSession.machine_id).is_not(None))
            .order_by(col(LabSession.machine_id), col(LabSession.opened_at), col(LabSession.id))
        ).all()
    far = datetime.max.replace(tzinfo=UTC)
    by_machine: dict[int, list[LabSession]] = {}
    for row in rows:
        by_machine.setdefault(row.machine_id or 0, []).append(row)
    for machine_id, sessions in by_machine.items():
        assert sum(s.closed_at is None for s in sessions) <= 1, f"machine {machine_id}: 2 open"
        for before, after in itertools.pairwise(sessions):
            end = before.closed_at or far
            assert end <= after.opened_at, (
                f"machine {machine_id}: session {before.id} ({before.opened_at}..{end}) "
                f"overlaps session {after.id} from {after.opened_at}"
            )


def check_deliveries(engine: Engine, model: Model) -> None:
    """Every shop event id recorded exactly once, and no other."""
    with Session(engine) as db:
        rows = db.exec(select(WebhookDelivery.provider, WebhookDelivery.event_id)).all()
    seen = Counter(rows)
    twice = {k: n for k, n in seen.items() if n > 1}
    assert not twice, f"shop events recorded twice: {twice}"
    got: dict[str, set[str]] = {}
    for provider, event_id in seen:
        got.setdefault(provider, set()).add(event_id)
    for provider in set(got) | set(model.deliveries):
        expected = model.deliveries.get(provider, set())
        found = got.get(provider, set())
        assert found == expected, (
            f"{provider}: lost {sorted(expected - found)[:3]}, unexpected {sorted(found - expected)[:3]}"
        )


def check_money(engine: Engine, model: Model) -> None:
    """Splits add up to the cent; balances are sales - refunds - held - paid per the model."""
    with Session(engine) as db:
        split_rows = db.exec(select(Split.id, Split.amount_minor)).all()
        share_rows = db.exec(
            select(
                SplitShare.split_id,
                SplitShare.contributor_id,
                Split.currency,
                SplitShare.amount_minor,
            ).join(Split, col(Split.id) == SplitShare.split_id)
        ).all()
        owed = balances(db)
        postings = account_balances(db)
    per_split: Counter[int] = Counter()
    shares: Counter[tuple[int, str]] = Counter()
    for split_id, contributor_id, currency, amount in share_rows:
        per_split[split_id] += amount
        shares[(contributor_id, currency)] += amount
    for split_id, amount in split_rows:
        assert per_split[split_id] == amount, (
            f"split {split_id} of {amount} has shares adding to {per_split[split_id]}"
        )
    totals: Counter[str] = Counter()
    for (_account, currency), amount in postings.items():
        totals[currency] += amount
    assert all(v == 0 for v in totals.values()), f"debits != credits: {dict(totals)}"
    for balance in owed:
        key = (balance.contributor_id, balance.currency)
        # owed may go below zero: a refund or a hold after a payout claws back what was paid.
        assert balance.owed_minor + balance.held_minor == shares[key] - model.paid[key], (
            f"{key}: owed {balance.owed_minor} + held {balance.held_minor} != "
            f"shares {shares[key]} - paid {model.paid[key]}"
        )
    for currency in CURRENCIES:
        owed_total = sum(b.owed_minor for b in owed if b.currency == currency)
        held_total = sum(b.held_minor for b in owed if b.currency == currency)
        expected = model.distributed(currency) - model.paid_in(currency)
        assert owed_total + held_total == expected, (
            f"{currency}: contributors hold {owed_total} + {held_total}, the model says {expected} "
            f"(sales - refunds {model.distributed(currency)}, paid {model.paid_in(currency)})"
        )
        assert held_total == model.held(currency), (
            f"{currency}: {held_total} on hold, open disputes cover {model.held(currency)}"
        )


def dump(engine: Engine, path: Path) -> None:
    """Sessions and device events in device-time order, to read beside a failure."""
    with Session(engine) as db:
        sessions = db.exec(select(LabSession).order_by(col(LabSession.id))).all()
        events = db.exec(select(DeviceEvent).order_by(col(DeviceEvent.at))).all()
    lines = [f"session {s.model_dump()}" for s in sessions]
    lines += [
        f"event {e.id} at={e.at} recv={e.received_at} {e.kind} {e.state or e.card_id} {e.event_id}"
        for e in events
    ]
    path.write_text("\n".join(lines) + "\n")
