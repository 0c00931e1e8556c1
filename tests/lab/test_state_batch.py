"""The set-based batch path folds machine states exactly as the ORM path, event by event."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import Session, col, select

from app.lab.access.models import DeniedScan
from app.lab.activity import LabSession, MachineRun, MachineStatus, UnknownScan
from app.lab.downtime import MachineDowntime
from app.lab.models import Badge, BadgeStatus, Contributor, MachineCreate, Reader
from app.lab.recorder import BatchOutcome, prepare_batch, record_event
from app.lab.rollups import RunHour
from app.lab.service import create_machine
from app.lab.sessions import ScanRules, card_holder, remember_cards
from devices.events import BadgeScan, MachineState, RunState
from tests.lab.conftest import T0

STATES = ["running", "running", "running", "paused", "finished", "failed", "cancelled", "idle"]
RARE = ["offline", "interrupted", "unknown"]


def _stream(rng: random.Random, count: int, messy: bool) -> list[dict]:
    """Device samples of one machine; messy: some repeats, some late, some offline."""
    samples: list[dict] = []
    moment = 0.0
    for n in range(count):
        moment += rng.choice([0, 1, 7, 30, 90, 400])
        state = rng.choice(STATES) if not messy or rng.random() > 0.05 else rng.choice(RARE)
        sample = {"n": n, "state": state, "at": moment}
        if rng.random() < 0.5:
            sample["progress"] = float(rng.randint(0, 100))
        if rng.random() < 0.3:
            sample["job"] = f"part {rng.randint(1, 3)}"
        if rng.random() < 0.2:
            sample["power_w"] = float(rng.randint(0, 300))
        if state in ("finished", "failed") and messy and rng.random() < 0.3:
            sample["reported_busy_s"] = float(rng.randint(1, 500))
        if rng.random() < 0.1:
            sample["energy_wh"] = float(rng.randint(1, 50))
        samples.append(sample)
    if not messy:
        return samples
    late = [dict(s, n=len(samples) + i, at=s["at"] - 5) for i, s in enumerate(samples[5::37])]
    repeats = samples[3::29]
    out = samples + late + repeats
    # Late and repeated samples arrive a little after their place, not at the very end.
    keyed = [(s["at"] + (60 if s in late or s in repeats else 0), i, s) for i, s in enumerate(out)]
    return [s for _k, _i, s in sorted(keyed, key=lambda k: (k[0], k[1]))]


def _event(machine_id: int, sample: dict) -> MachineState:
    fields = {k: v for k, v in sample.items() if k not in ("n", "state", "at")}
    return MachineState(
        machine=str(machine_id),
        state=RunState(sample["state"]),
        at=T0 + timedelta(seconds=sample["at"]),
        event_id=f"m{machine_id}-{sample['n']}",
        **fields,
    )


def _machines_and_sessions(db: Session, tag: str) -> tuple[int, int]:
    ids = []
    for name in (f"reference{tag}", f"batched{tag}"):
        machine = create_machine(
            db, MachineCreate(name=name, kind="printer", adapter="lab", address=name)
        )
        assert machine.id is not None
        ids.append(machine.id)
    maker = Contributor(name=f"maker{tag}", display_name="Maker")
    db.add(maker)
    db.flush()
    assert maker.id is not None
    for machine_id in ids:
        # Someone badged in for a while early on, someone opens a session later and stays.
        db.add(
            LabSession(
                contributor_id=maker.id,
                machine_id=machine_id,
                opened_at=T0 + timedelta(seconds=300),
                closed_at=T0 + timedelta(seconds=2500),
                close_reason="badge_out",
                last_activity_at=T0 + timedelta(seconds=300),
            )
        )
        db.add(
            LabSession(
                contributor_id=maker.id,
                machine_id=machine_id,
                opened_at=T0 + timedelta(seconds=6000),
                last_activity_at=T0 + timedelta(seconds=6000),
            )
        )
    db.commit()
    return ids[0], ids[1]


def _runs(db: Session, machine_id: int, people: dict[int, str] | None = None) -> list[tuple]:
    runs = db.exec(
        select(MachineRun)
        .where(MachineRun.machine_id == machine_id)
        .order_by(col(MachineRun.started_at), col(MachineRun.start_event_id))
    ).all()
    return [
        (
            r.status,
            r.started_at,
            r.ended_at,
            r.busy_since,
            r.busy_s,
            r.end_reason,
            r.provenance,
            r.flagged,
            r.flag_reason,
            r.job,
            r.progress,
            r.energy_wh,
            r.reported_busy_s,
            r.last_sample_at,
            r.attribution,
            people.get(r.operator_id or 0, r.operator_id) if people else r.operator_id,
            r.start_event_id.split("-", 1)[1],
        )
        for r in runs
    ]


def _status(db: Session, machine_id: int) -> tuple:
    status = db.get(MachineStatus, machine_id)
    assert status is not None
    run = db.get(MachineRun, status.run_id) if status.run_id is not None else None
    return (
        status.state,
        status.since,
        status.last_event_at,
        status.progress,
        status.job,
        status.power_w,
        run.start_event_id.split("-", 1)[1] if run is not None else None,
    )


def _sessions(db: Session, machine_id: int) -> list[tuple]:
    rows = db.exec(
        select(LabSession)
        .where(LabSession.machine_id == machine_id)
        .order_by(col(LabSession.opened_at))
    ).all()
    return [(s.opened_at, s.closed_at, s.close_reason, s.last_activity_at) for s in rows]


def _hours(db: Session, machine_id: int) -> list[tuple]:
    rows = db.exec(
        select(RunHour).where(RunHour.machine_id == machine_id).order_by(col(RunHour.hour))
    ).all()
    return sorted((r.hour, r.end_reason, r.runs, r.busy_s, r.wall_s) for r in rows)


def test_batches_fold_like_the_event_by_event_path(engine):
    rules = ScanRules()
    handled = {True: 0, False: 0}
    for seed in range(6):
        messy = seed % 2 == 0
        rng = random.Random(seed)
        with Session(engine) as db:
            reference, batched = _machines_and_sessions(db, str(seed))
        samples = _stream(rng, 160, messy)
        with Session(engine) as db:
            for sample in samples:
                record_event(db, _event(reference, sample), "test", rules, BatchOutcome())
                db.commit()
        position = 0
        while position < len(samples):
            size = rng.choice([1, 3, 20, 60])
            chunk = [_event(batched, s) for s in samples[position : position + size]]
            position += size
            with Session(engine) as db:
                outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
                for event in chunk:
                    record_event(db, event, "test", rules, outcome)
                db.commit()
            handled[messy] += len(outcome.handled)
        with Session(engine) as db:
            assert _runs(db, batched) == _runs(db, reference), seed
            assert _status(db, batched) == _status(db, reference), seed
            assert _sessions(db, batched) == _sessions(db, reference), seed
            assert _hours(db, batched) == _hours(db, reference), seed
            assert len(_runs(db, reference)) > 5
    # Clean streams take the set-based path; messy ones (late, offline) the ORM path in part.
    assert handled[False] == 3 * 160
    assert 0 < handled[True] < 3 * 160


def test_a_repeated_batch_records_nothing_twice(engine):
    rules = ScanRules()
    with Session(engine) as db:
        _reference, machine = _machines_and_sessions(db, "")
    chunk = [
        _event(machine, {"n": n, "state": s, "at": n * 10})
        for n, s in enumerate(["running", "paused", "running", "finished"])
    ]
    for attempt in range(2):
        with Session(engine) as db:
            outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
            db.commit()
        assert len(outcome.handled) == 4
        assert (outcome.applied, outcome.duplicates) == ((4, 0) if attempt == 0 else (0, 4))
    with Session(engine) as db:
        (run,) = _runs(db, machine)
    assert run[5] == "finished" and run[4] == 20.0 and run[14] is None


def _reader_and_badge(db: Session, machine_id: int, tag: str) -> tuple[int, str, int]:
    person = Contributor(name=f"scanner{tag}", display_name="Scanner")
    db.add(person)
    db.flush()
    assert person.id is not None
    card = f"{abs(hash(tag)) % 10**10:010d}"
    db.add(Badge(card_id=card, contributor_id=person.id))
    reader = Reader(name=f"reader{tag}", address=f"reader{tag}", machine_id=machine_id)
    db.add(reader)
    db.commit()
    assert reader.id is not None
    return reader.id, card, person.id


def test_scans_between_states_in_one_batch_fold_like_the_event_by_event_path(engine):
    rules = ScanRules()
    rng = random.Random(11)
    with Session(engine) as db:
        reference, batched = _machines_and_sessions(db, "scan")
        readers = {
            reference: _reader_and_badge(db, reference, "ref"),
            batched: _reader_and_badge(db, batched, "bat"),
        }
    samples = _stream(rng, 120, messy=False)
    # A badge scan every so often, between the states (badge in, out, in ...).
    timeline: list[dict] = []
    for sample in samples:
        timeline.append(sample)
        if rng.random() < 0.15:
            timeline.append({"scan": True, "n": sample["n"], "at": sample["at"]})

    def events(machine_id: int) -> list[MachineState | BadgeScan]:
        reader_id, card, _person = readers[machine_id]
        return [
            BadgeScan(
                reader=str(reader_id),
                badge=card,
                at=T0 + timedelta(seconds=item["at"]),
                event_id=f"s{machine_id}-{item['n']}",
            )
            if item.get("scan")
            else _event(machine_id, item)
            for item in timeline
        ]

    with Session(engine) as db:
        for event in events(reference):
            record_event(db, event, "test", rules, BatchOutcome())
            db.commit()
    stream = events(batched)
    handled = 0
    for start in range(0, len(stream), 25):
        chunk = stream[start : start + 25]
        with Session(engine) as db:
            outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
            for event in chunk:
                record_event(db, event, "test", rules, outcome)
            db.commit()
        handled += len(outcome.handled)
    # Each machine has its own badge holder: compare who ran what by role.
    people = {person: "scanner" for _reader, _card, person in readers.values()}
    with Session(engine) as db:
        assert _runs(db, batched, people) == _runs(db, reference, people)
        assert _status(db, batched) == _status(db, reference)
        assert _sessions(db, batched) == _sessions(db, reference)
        assert _hours(db, batched) == _hours(db, reference)
        assert len(_sessions(db, reference)) > 4  # the scans opened and closed sessions
    assert 0 < handled < len(samples)


def test_a_timeless_copy_is_a_repeat_only_within_the_redelivery_window(engine):
    rules = ScanRules(redelivery_window_s=60)
    with Session(engine) as db:
        _reference, machine = _machines_and_sessions(db, "timeless")

    def copy(n: int, seconds: float) -> MachineState:
        return MachineState(
            machine=str(machine),
            state=RunState("idle"),
            at=T0 + timedelta(seconds=seconds),
            event_id=f"t{n}",
            fingerprint="same bytes on the same topic",
        )

    batches = [[copy(0, 0), copy(1, 30)], [copy(2, 50), copy(3, 200)], [copy(4, 230)]]
    outcomes = []
    for chunk in batches:
        with Session(engine) as db:
            outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
            db.commit()
        assert len(outcome.handled) == len(chunk)
        outcomes.append((outcome.applied, outcome.duplicates))
    # 30 s and 50 s repeat the copy at 0; 200 s is new; 230 s repeats it.
    assert outcomes == [(1, 1), (1, 1), (0, 1)]


def _card_holders(db: Session, machine_id: int, tag: str) -> tuple[int, list[str]]:
    """A reader at the machine and four cards: held, held by someone inactive, revoked, unknown."""
    cards = []
    for kind in ("held", "inactive", "revoked"):
        person = Contributor(name=f"{kind}{tag}", display_name=kind, active=kind != "inactive")
        db.add(person)
        db.flush()
        assert person.id is not None
        card = f"{kind}-{tag}"
        status = BadgeStatus.REVOKED if kind == "revoked" else BadgeStatus.ACTIVE
        db.add(Badge(card_id=card, contributor_id=person.id, status=status))
        cards.append(card)
    cards.append(f"unknown-{tag}")
    reader = Reader(name=f"reader{tag}", address=f"reader{tag}", machine_id=machine_id)
    db.add(reader)
    db.commit()
    assert reader.id is not None
    return reader.id, cards


def test_scans_with_cards_read_per_batch_end_like_scans_read_one_by_one(engine):
    rules = ScanRules()
    rng = random.Random(5)
    with Session(engine) as db:
        reference, batched = _machines_and_sessions(db, "cards")
        readers = {m: _card_holders(db, m, f"{m}") for m in (reference, batched)}
        # Out of service for a while, and later in two windows, the later one without end.
        for machine_id in (reference, batched):
            for start, end, why in (
                (2000, 3000, "repair"),
                (4000, 5000, "service"),
                (4200, None, "broken"),
            ):
                db.add(
                    MachineDowntime(
                        machine_id=machine_id,
                        starts_at=T0 + timedelta(seconds=start),
                        ends_at=T0 + timedelta(seconds=end) if end else None,
                        reason=why,
                    )
                )
        db.commit()
    picks = [(rng.randrange(4), rng.choice([1, 20, 300])) for _ in range(80)]

    def scans(machine_id: int) -> list[BadgeScan]:
        reader_id, cards = readers[machine_id]
        moment, out = 0.0, []
        for n, (which, gap) in enumerate(picks):
            moment += gap
            out.append(
                BadgeScan(
                    reader=str(reader_id),
                    badge=cards[which],
                    at=T0 + timedelta(seconds=moment),
                    event_id=f"c{machine_id}-{n}",
                )
            )
        return out

    one_by_one: list[str] = []
    with Session(engine) as db:
        for event in scans(reference):
            outcome = BatchOutcome()
            record_event(db, event, "test", rules, outcome)
            db.commit()
            one_by_one += outcome.scans
    in_batches: list[str] = []
    stream = scans(batched)
    for start in range(0, len(stream), 16):
        chunk = stream[start : start + 16]
        with Session(engine) as db:
            outcome = prepare_batch(db, [(e, "test") for e in chunk], rules)
            for event in chunk:
                record_event(db, event, "test", rules, outcome)
            db.commit()
        in_batches += outcome.scans
    assert in_batches == one_by_one
    assert {"opened", "closed", "unknown", "denied"} <= set(one_by_one)
    with Session(engine) as db:
        assert _sessions(db, batched) == _sessions(db, reference)

        def kept(table: type[UnknownScan] | type[DeniedScan], reader_id: int) -> list[tuple]:
            rows = db.exec(select(table).where(table.reader_id == reader_id)).all()
            why = [getattr(r, "detail", "").split(":")[-1] for r in rows]
            return sorted(
                (r.card_id.split("-")[0], r.at, r.reason, w) for r, w in zip(rows, why, strict=True)
            )

        for table in (UnknownScan, DeniedScan):
            assert kept(table, readers[batched][0]) == kept(table, readers[reference][0])
            assert kept(table, readers[batched][0])  # unknown and revoked cards were kept
        reasons = {row[2:] for row in kept(DeniedScan, readers[batched][0])}
        assert {("out_of_service", " repair"), ("out_of_service", " broken")} <= reasons


def test_a_card_enrolled_after_the_batch_read_its_cards_is_known(engine):
    with Session(engine) as db:
        person = Contributor(name="late enrolment", display_name="Late")
        db.add(person)
        db.flush()
        remember_cards(db, {"read-before"})
        assert card_holder(db, "read-before") == (None, None)
        db.add(Badge(card_id="enrolled-after", contributor_id=person.id))
        badge, holder = card_holder(db, "enrolled-after")
        assert badge is not None and holder is person
