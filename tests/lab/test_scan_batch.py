"""Badge scans folded by the set-based batch path end exactly as scans applied one by one."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import Session, col, select

from app.accounting.products.tables import Product
from app.lab.access.models import DeniedScan, Induction
from app.lab.activity import LabSession, UnknownScan
from app.lab.downtime import MachineDowntime
from app.lab.models import Badge, BadgeStatus, Contributor, MachineCreate, Reader
from app.lab.recorder import BatchOutcome, prepare_batch, record_event
from app.lab.rollups import SessionHour
from app.lab.service import create_machine
from app.lab.sessions import ScanRules
from devices.events import BadgeScan, Event
from tests.lab.conftest import T0
from tests.lab.test_state_batch import _event, _hours, _runs, _status, _stream

# ann and ben are inducted; cat is not; dan's badge is revoked; eve is deactivated;
# fay's induction expires mid-stream; "nobody" is a card never enrolled.
PEOPLE = ("ann", "ben", "cat", "dan", "eve", "fay")
WEIGHTS = (4, 4, 1, 1, 1, 1, 1)


class _Lab:
    """One machine with its reader, its people and their cards."""

    def __init__(self, db: Session, tag: str, induction: bool, limit: int | None) -> None:
        machine = create_machine(
            db,
            MachineCreate(
                name=f"m{tag}",
                kind="printer",
                adapter="lab",
                address=f"m{tag}",
                requires_induction=induction,
                max_session_s=limit,
            ),
        )
        assert machine.id is not None
        self.machine = machine.id
        self.tag = tag
        product = Product(name=f"board{tag}")
        db.add(product)
        self.names: dict[int, str] = {}
        self.cards: list[str] = []
        for name in PEOPLE:
            person = Contributor(name=f"{name}{tag}", display_name=name, active=name != "eve")
            db.add(person)
            db.flush()
            assert person.id is not None
            self.names[person.id] = name
            status = BadgeStatus.REVOKED if name == "dan" else BadgeStatus.ACTIVE
            db.add(Badge(card_id=f"{name}-{tag}", contributor_id=person.id, status=status))
            self.cards.append(f"{name}-{tag}")
            if name in ("ann", "ben", "fay"):
                db.add(
                    Induction(
                        contributor_id=person.id,
                        machine_id=machine.id,
                        trainer_id=person.id,
                        granted_at=T0 - timedelta(days=1),
                        expires_at=T0 + timedelta(seconds=3000) if name == "fay" else None,
                    )
                )
            if name == "ann":
                # ann worked on a product here before: her badge-ins take it up again.
                db.flush()
                db.add(
                    LabSession(
                        contributor_id=person.id,
                        machine_id=machine.id,
                        product_id=product.id,
                        opened_at=T0 - timedelta(hours=3),
                        closed_at=T0 - timedelta(hours=2),
                        close_reason="badge_out",
                        last_activity_at=T0 - timedelta(hours=3),
                    )
                )
        self.cards.append(f"nobody-{tag}")
        for start, end in ((2000, 2600), (4000, 4500)):
            db.add(
                MachineDowntime(
                    machine_id=machine.id,
                    starts_at=T0 + timedelta(seconds=start),
                    ends_at=T0 + timedelta(seconds=end),
                    reason="service",
                )
            )
        reader = Reader(name=f"r{tag}", address=f"r{tag}", machine_id=machine.id)
        db.add(reader)
        db.commit()
        assert reader.id is not None
        self.reader = reader.id

    def events(self, timeline: list[dict]) -> list[Event]:
        """The timeline as this machine's events."""
        return [
            BadgeScan(
                reader=str(self.reader),
                badge=self.cards[item["card"]],
                at=T0 + timedelta(seconds=item["at"]),
                event_id=f"s{self.tag}-{item['n']}",
            )
            if "card" in item
            else _event(self.machine, item)
            for item in timeline
        ]

    def who(self, person: int | None) -> str | None:
        return self.names.get(person) if person is not None else None

    def sessions(self, db: Session) -> list[tuple]:
        rows = db.exec(
            select(LabSession)
            .where(LabSession.machine_id == self.machine)
            .order_by(col(LabSession.opened_at), col(LabSession.id))
        ).all()
        return [
            (
                self.who(s.contributor_id),
                s.opened_at,
                s.closed_at,
                s.close_reason,
                (s.closed_by or "").replace(self.tag, ""),
                s.last_activity_at,
                s.product_id is not None,
                s.flagged,
                s.open_event_id.split("-", 1)[1] if s.open_event_id else None,
            )
            for s in rows
        ]

    def kept(self, db: Session) -> list[tuple]:
        denied = db.exec(select(DeniedScan).where(DeniedScan.reader_id == self.reader)).all()
        unknown = db.exec(select(UnknownScan).where(UnknownScan.reader_id == self.reader)).all()
        return sorted(
            [
                (
                    r.card_id.split("-")[0],
                    r.at,
                    r.reason,
                    r.detail.replace(self.tag, ""),
                    self.who(r.contributor_id),
                )
                for r in denied
            ]
            + [(r.card_id.split("-")[0], r.at, r.reason, "unknown", None) for r in unknown]
        )

    def session_hours(self, db: Session) -> list[tuple]:
        rows = db.exec(
            select(SessionHour).where(col(SessionHour.contributor_id).in_(list(self.names)))
        ).all()
        return sorted(
            (r.hour, self.who(r.contributor_id), r.product_id is not None, r.sessions, r.seconds)
            for r in rows
        )


def _timeline(rng: random.Random, messy: bool) -> list[dict]:
    """States of one machine with scans among them: badge-ins, outs, handovers, repeats."""
    timeline: list[dict] = []
    n = 10_000
    for sample in _stream(rng, 150, messy):
        timeline.append(sample)
        if rng.random() < 0.25:
            card = rng.choices(range(len(WEIGHTS)), WEIGHTS)[0]
            at = sample["at"] + rng.choice([0, 0, 1, 4])
            timeline.append({"card": card, "at": at, "n": n})
            n += 1
            if rng.random() < 0.2:  # the card held a moment longer: a debounced repeat
                timeline.append({"card": card, "at": at + rng.choice([1, 3]), "n": n})
                n += 1
    return timeline


def test_random_streams_with_scans_fold_in_batches_like_one_by_one(engine):
    rules = ScanRules()
    totals = {"handled": 0, "scans": 0}
    results: set[str] = set()
    for seed in range(6):
        rng = random.Random(100 + seed)
        induction = seed % 3 == 1
        limit = 1800 if seed % 3 == 2 else None
        with Session(engine) as db:
            reference = _Lab(db, f"r{seed}", induction, limit)
            batched = _Lab(db, f"b{seed}", induction, limit)
        timeline = _timeline(rng, messy=seed % 2 == 1)
        one_by_one = BatchOutcome()
        with Session(engine) as db:
            for event in reference.events(timeline):
                record_event(db, event, "test", rules, one_by_one)
                db.commit()
        stream = batched.events(timeline)
        in_batches = BatchOutcome()
        position = 0
        while position < len(stream):
            size = rng.choice([1, 3, 20, 60])
            chunk = stream[position : position + size]
            position += size
            with Session(engine) as db:
                outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
                for event in chunk:
                    record_event(db, event, "test", rules, outcome)
                db.commit()
            in_batches.scans += outcome.scans
            in_batches.replies += outcome.replies
            totals["handled"] += sum(
                1 for e in chunk if isinstance(e, BadgeScan) and id(e) in outcome.handled
            )
        totals["scans"] += sum(1 for e in stream if isinstance(e, BadgeScan))
        assert in_batches.scans == one_by_one.scans, seed
        replies = [(r.allowed, r.reason, r.scan_id.split("-")[1]) for r in in_batches.replies]
        assert replies == [
            (r.allowed, r.reason, r.scan_id.split("-")[1]) for r in one_by_one.replies
        ]
        results |= set(one_by_one.scans)
        _same_rows(engine, batched, reference, seed)
    assert {"opened", "closed", "handover", "debounced", "unknown", "denied"} <= results
    # Most scans took the set-based path; the rest (after a late state, say) the ORM path.
    assert totals["scans"] // 2 < totals["handled"] < totals["scans"]


def _same_rows(engine, batched: _Lab, reference: _Lab, seed: int) -> None:
    with Session(engine) as db:
        assert batched.sessions(db) == reference.sessions(db), seed
        assert batched.kept(db) == reference.kept(db), seed
        assert _runs(db, batched.machine, batched.names) == _runs(
            db, reference.machine, reference.names
        ), seed
        assert _status(db, batched.machine) == _status(db, reference.machine), seed
        assert _hours(db, batched.machine) == _hours(db, reference.machine), seed
        assert batched.session_hours(db) == reference.session_hours(db), seed


def test_several_machines_in_one_batch_fold_like_one_by_one(engine):
    rules = ScanRules()
    for seed in range(3):
        rng = random.Random(200 + seed)
        pairs = []
        with Session(engine) as db:
            for k in range(3):
                induction, limit = k == 1, 1800 if k == 2 else None
                pairs.append(
                    (
                        _Lab(db, f"r{seed}{k}x", induction, limit),
                        _Lab(db, f"b{seed}{k}x", induction, limit),
                        _timeline(rng, messy=k == 0),
                    )
                )
        one_by_one = BatchOutcome()
        with Session(engine) as db:
            for reference, _batched, timeline in pairs:
                for event in reference.events(timeline):
                    record_event(db, event, "test", rules, one_by_one)
                    db.commit()
        # The machines' streams interleaved at random, each in its own order.
        queues = [batched.events(timeline) for _r, batched, timeline in pairs]
        stream: list[Event] = []
        while any(queues):
            queue = rng.choice([q for q in queues if q])
            stream.append(queue.pop(0))
        in_batches = BatchOutcome()
        taken = 0
        for start in range(0, len(stream), 50):
            chunk = stream[start : start + 50]
            with Session(engine) as db:
                outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
                for event in chunk:
                    record_event(db, event, "test", rules, outcome)
                db.commit()
            in_batches.scans += outcome.scans
            in_batches.replies += outcome.replies
            taken += sum(1 for e in chunk if isinstance(e, BadgeScan) and id(e) in outcome.handled)
        assert taken > sum(1 for e in stream if isinstance(e, BadgeScan)) // 2, seed
        assert sorted(in_batches.scans) == sorted(one_by_one.scans), seed
        for reference, batched, _events in pairs:
            # Each reader's replies come in its scans' order.
            mine = [
                (r.allowed, r.reason, r.scan_id.split("-")[1])
                for r in in_batches.replies
                if r.reader_id == batched.reader
            ]
            assert mine == [
                (r.allowed, r.reason, r.scan_id.split("-")[1])
                for r in one_by_one.replies
                if r.reader_id == reference.reader
            ], seed
            _same_rows(engine, batched, reference, seed)
