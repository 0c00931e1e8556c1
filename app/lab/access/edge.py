"""The induction list an edge bridge caches, so its readers admit the right people offline.

Per reader: its lab/v1 topic segment, its machine, whether that machine needs an
induction, its interlock (to switch locally), and the cards it admits now, each
with the moment its admission ends (the latest expiry of a valid induction, or
none). A door reader, or a machine that needs no induction, admits every active
card. The `version` is a hash of that content: equal lists have equal versions,
so a bridge asks with `If-None-Match` and gets 304 while nothing changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.lab.access.inductions import covering, status_of
from app.lab.models import Badge, BadgeStatus, Contributor, Machine, Reader


class EdgeCard(BaseModel):
    """A card a reader admits, until when (None: no end)."""

    card_id: str
    until: datetime | None


class EdgeInterlock(BaseModel):
    """How to switch the reader's machine."""

    kind: str
    address: str


class EdgeReader(BaseModel):
    """What one reader needs to decide offline."""

    reader: str
    machine: str | None
    requires_induction: bool
    interlock: EdgeInterlock | None
    cards: list[EdgeCard]


class EdgeSnapshot(BaseModel):
    """The cached list and its version."""

    version: str
    readers: list[EdgeReader]


def _active_cards(db: Session) -> list[tuple[str, int]]:
    rows = db.exec(
        select(Badge.card_id, Badge.contributor_id)
        .join(Contributor, col(Contributor.id) == Badge.contributor_id)
        .where(Badge.status == BadgeStatus.ACTIVE, col(Contributor.active))
        .order_by(col(Badge.card_id))
    ).all()
    return [(card, person) for card, person in rows]


def _admitted(
    db: Session, machine: Machine, cards: list[tuple[str, int]], now: datetime
) -> list[EdgeCard]:
    assert machine.id is not None
    out: list[EdgeCard] = []
    for card, person in cards:
        valid = [row for row in covering(db, person, machine.id) if status_of(row, now) == "valid"]
        if not valid:
            continue
        ends = [row.expires_at for row in valid]
        until = None if any(end is None for end in ends) else max(e for e in ends if e is not None)
        out.append(EdgeCard(card_id=card, until=until))
    return out


def _entry(db: Session, reader: Reader, cards: list[tuple[str, int]], now: datetime) -> EdgeReader:
    machine = db.get(Machine, reader.machine_id) if reader.machine_id is not None else None
    requires = bool(machine and machine.requires_induction)
    interlock = None
    if machine is not None and machine.interlock and machine.interlock_address:
        interlock = EdgeInterlock(kind=machine.interlock, address=machine.interlock_address)
    admitted = (
        _admitted(db, machine, cards, now)
        if machine is not None and requires
        else [EdgeCard(card_id=card, until=None) for card, _person in cards]
    )
    return EdgeReader(
        reader=reader.address or reader.name,
        machine=machine.name if machine else None,
        requires_induction=requires,
        interlock=interlock,
        cards=admitted,
    )


def edge_snapshot(db: Session, readers: list[str], now: datetime) -> EdgeSnapshot:
    """The list for the named readers (their topic segment or name), or every active reader."""
    query = select(Reader).where(col(Reader.active)).order_by(col(Reader.id))
    rows = [
        r
        for r in db.exec(query).all()
        if not readers or {r.name, r.address or r.name} & set(readers)
    ]
    cards = _active_cards(db)
    entries = [_entry(db, reader, cards, now) for reader in rows]
    canonical = json.dumps([e.model_dump(mode="json") for e in entries], sort_keys=True)
    version = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return EdgeSnapshot(version=version, readers=entries)
