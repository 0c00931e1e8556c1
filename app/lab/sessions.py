"""Badge sessions: who is at which machine, opened and closed by scans, timeouts and operators.

Rules (README, "The live lab"): a badge-in opens a session; the same badge again
closes it (`badge_out`); another badge at the same machine hands over
(`handover`); a machine idle past its timeout closes it (`timeout`); a machine
going offline closes it (`offline`); an operator can close it (`admin`). A
repeat of the same scan within the debounce window does nothing. An unknown or
revoked badge opens nothing and is kept as an unknown scan for enrolment.

Labour is bounded: a session is never longer than its limit (the machine's
`max_session_s`, else `ScanRules.max_session_s`; `door_max_session_s` at the
door). However it would close (a badge-out days later, a handover, a timeout,
the periodic sweep of `close_overlong_sessions`), a session past its limit is
closed at the limit with reason `max_length` and flagged for review, so its
labour waits for an operator instead of counting. A scan of the same badge
after the limit is then a new badge-in, not a badge-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.config import Settings
from app.lab.activity import CloseReason, DeviceEvent, LabSession, MachineStatus, UnknownScan
from app.lab.models import Badge, BadgeStatus, Contributor, Machine, Reader
from app.lab.runs import attribute_grace, lock_status

SYSTEM = "system"


@dataclass(frozen=True)
class ScanRules:
    """The lab's timing rules: debounce, attribution grace, redelivery window, session limits."""

    debounce_s: float = 5.0
    grace_s: float = 600.0
    redelivery_window_s: float = 60.0
    max_session_s: float = 8 * 3600.0
    door_max_session_s: float = 12 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ScanRules:
        """The rules as the service is configured."""
        return cls(
            debounce_s=settings.badge_debounce_s,
            grace_s=settings.attribution_grace_s,
            redelivery_window_s=settings.redelivery_window_s,
            max_session_s=settings.max_session_s,
            door_max_session_s=settings.door_max_session_s,
        )

    def limit_s(self, machine: Machine | None) -> float:
        """The longest a session may last at this machine (None: the door)."""
        if machine is None:
            return self.door_max_session_s
        return self.machine_limit_s(machine.max_session_s)

    def machine_limit_s(self, max_session_s: float | None) -> float:
        """The longest a session may last at a machine with this own limit (None: the lab's)."""
        return float(max_session_s or self.max_session_s)


def open_session_on(db: Session, machine_id: int) -> LabSession | None:
    """The open session at a machine, if any (asked once per transaction while no scan,
    close or open changes sessions without this module; see `_now_open`)."""
    held: tuple[object, dict[int, LabSession | None]] | None = db.info.get(_OPEN)
    transaction = db.get_transaction()
    cached = held is not None and transaction is not None and held[0] is transaction
    if cached and held is not None and machine_id in held[1]:
        return held[1][machine_id]
    session = db.exec(
        select(LabSession).where(
            LabSession.machine_id == machine_id, col(LabSession.closed_at).is_(None)
        )
    ).first()
    transaction = db.get_transaction()
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        db.info[_OPEN] = held
    held[1][machine_id] = session
    return session


_OPEN = "labledger.open_sessions"


def remember_open_sessions(db: Session, machine_ids: set[int]) -> list[LabSession]:
    """Ask once for the open sessions at several machines (a batch's), for `open_session_on`."""
    found = db.exec(
        select(LabSession).where(
            col(LabSession.machine_id).in_(machine_ids), col(LabSession.closed_at).is_(None)
        )
    ).all()
    known: dict[int, LabSession | None] = dict.fromkeys(machine_ids)
    for session in found:
        if session.machine_id is not None:
            known[session.machine_id] = session
    db.info[_OPEN] = (db.get_transaction(), known)
    return list(found)


_CARDS = "labledger.card_holders"


def remember_cards(db: Session, card_ids: set[str]) -> None:
    """Read the badges and holders of a batch's cards in one statement, for `card_holder`
    (the gate and the session both ask, for every scan, within the same transaction)."""
    known: dict[str, tuple[Badge | None, Contributor | None]] = dict.fromkeys(
        card_ids, (None, None)
    )
    if card_ids:
        rows = db.exec(
            select(Badge, Contributor)
            .join(Contributor, col(Contributor.id) == Badge.contributor_id, isouter=True)
            .where(col(Badge.card_id).in_(card_ids))
        ).all()
        for badge, contributor in rows:
            known[badge.card_id] = (badge, contributor)
    db.info[_CARDS] = (db.get_transaction(), known)


def card_holder(db: Session, card_id: str) -> tuple[Badge | None, Contributor | None]:
    """The badge with this card id and the contributor it names (either may be missing).

    Answered from `remember_cards` when it read this card in the same transaction;
    otherwise asked (and not kept: a badge enrolled later in a transaction is seen)."""
    held: tuple[object, dict[str, tuple[Badge | None, Contributor | None]]] | None = db.info.get(
        _CARDS
    )
    if held is not None and held[0] is db.get_transaction() and card_id in held[1]:
        return held[1][card_id]
    badge = db.exec(select(Badge).where(Badge.card_id == card_id)).first()
    contributor = db.get(Contributor, badge.contributor_id) if badge else None
    return badge, contributor


def _forget_open_sessions(db: Session) -> None:
    """Sessions are about to change: the next question asks the database again."""
    db.info.pop(_OPEN, None)


def _now_open(db: Session, machine_id: int | None, session: LabSession | None) -> None:
    """Every change of a machine's open session goes through this module: keep the
    transaction's answer for `open_session_on` instead of asking again."""
    held: tuple[object, dict[int, LabSession | None]] | None = db.info.get(_OPEN)
    if machine_id is None or held is None:
        return
    if held[0] is db.get_transaction():
        held[1][machine_id] = session
    else:
        _forget_open_sessions(db)


def close_session(
    db: Session,
    session: LabSession,
    at: datetime,
    reason: CloseReason,
    by: str,
    rules: ScanRules | None = None,
) -> None:
    """Close a session with its reason and who or what closed it, bounded by `rules`' limit."""
    _now_open(db, session.machine_id, None)
    if rules is not None and _past_limit(db, session, at, rules):
        _close_at_limit(db, session, rules)
        return
    session.closed_at = max(at, session.opened_at)
    session.close_reason = reason
    session.closed_by = by[:200]


def _limit_s(db: Session, session: LabSession, rules: ScanRules) -> float:
    machine = db.get(Machine, session.machine_id) if session.machine_id is not None else None
    return rules.limit_s(machine)


def _past_limit(db: Session, session: LabSession, at: datetime, rules: ScanRules) -> bool:
    return at - session.opened_at > timedelta(seconds=_limit_s(db, session, rules))


def _close_at_limit(db: Session, session: LabSession, rules: ScanRules) -> None:
    """Close a session at its maximum length, flagged: its labour waits for review."""
    _now_open(db, session.machine_id, None)
    limit = _limit_s(db, session, rules)
    session.closed_at = session.opened_at + timedelta(seconds=limit)
    session.close_reason = CloseReason.MAX_LENGTH
    session.closed_by = SYSTEM
    session.flagged = True
    session.flag_reason = (
        f"open longer than the maximum session of {_hours(limit)}: closed there, "
        "review before its labour counts"
    )


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} h" if hours >= 1 else f"{seconds / 60:g} min"


def _still_open(
    db: Session, session: LabSession | None, at: datetime, rules: ScanRules
) -> LabSession | None:
    """The session, unless it is past its limit at `at`: then it is closed there, flagged."""
    if session is not None and _past_limit(db, session, at, rules):
        _close_at_limit(db, session, rules)
        db.flush()
        return None
    return session


def end_overlong_session(db: Session, machine_id: int, at: datetime, rules: ScanRules) -> None:
    """Close the machine's open session at its limit if `at` is past it (before judging a scan)."""
    _still_open(db, open_session_on(db, machine_id), at, rules)


def _is_repeat(
    db: Session, reader_id: int, card_id: str, at: datetime, event_id: str, rules: ScanRules
) -> bool:
    earlier = db.exec(
        select(DeviceEvent).where(
            DeviceEvent.kind == "badge",
            DeviceEvent.reader_id == reader_id,
            DeviceEvent.card_id == card_id,
            DeviceEvent.event_id != event_id,
            col(DeviceEvent.at) <= at,
            col(DeviceEvent.at) > at - timedelta(seconds=rules.debounce_s),
        )
    ).first()
    return earlier is not None


def _last_product(db: Session, contributor_id: int, machine_id: int) -> int | None:
    """The product this person last worked on at this machine."""
    return db.exec(
        select(LabSession.product_id)
        .where(
            LabSession.contributor_id == contributor_id,
            LabSession.machine_id == machine_id,
            col(LabSession.product_id).is_not(None),
        )
        .order_by(col(LabSession.opened_at).desc())
    ).first()


def handle_scan(
    db: Session, reader: Reader, card_id: str, at: datetime, event_id: str, rules: ScanRules
) -> str:
    """Apply one badge scan; returns what it did (opened, closed, handover, unknown, debounced)."""
    assert reader.id is not None
    if reader.machine_id is not None:
        lock_status(db, reader.machine_id)
    badge, contributor = card_holder(db, card_id)
    if (
        badge is None
        or badge.status != BadgeStatus.ACTIVE
        or contributor is None
        or not contributor.active
    ):
        reason = "unknown" if badge is None else "revoked"
        db.add(
            UnknownScan(
                reader_id=reader.id, card_id=card_id, reason=reason, at=at, event_id=event_id
            )
        )
        return "unknown"
    if _is_repeat(db, reader.id, card_id, at, event_id, rules):
        return "debounced"
    assert contributor.id is not None
    if reader.machine_id is None:
        return _door_scan(db, reader, badge, contributor, at, event_id, rules)
    machine = db.get(Machine, reader.machine_id)
    assert machine is not None and machine.id is not None
    current = _still_open(db, open_session_on(db, machine.id), at, rules)
    outcome = "opened"
    if current is not None:
        if current.contributor_id == contributor.id:
            close_session(db, current, at, CloseReason.BADGE_OUT, contributor.name, rules)
            return "closed"
        close_session(db, current, at, CloseReason.HANDOVER, contributor.name, rules)
        db.flush()
        outcome = "handover"
    else:
        _end_estimated_close_at(db, machine.id, at)
    product_id = reader.product_id or _last_product(db, contributor.id, machine.id)
    session = LabSession(
        contributor_id=contributor.id,
        badge_id=badge.id,
        machine_id=machine.id,
        reader_id=reader.id,
        product_id=product_id,
        role=contributor.role,
        opened_at=at,
        last_activity_at=at,
        open_event_id=event_id,
    )
    db.add(session)
    db.flush()
    _now_open(db, machine.id, session)
    attribute_grace(db, machine.id, session, rules.grace_s)
    return outcome


def _end_estimated_close_at(db: Session, machine_id: int, at: datetime) -> None:
    """A badge-in ends the session before it, if the system closed that one at a guessed time.

    The sweeps close an idle or overlong session at a time they compute (last
    activity plus the timeout, or the limit) from the wall clock; events that
    arrive late (a bridge's outbox, a broker's queue) can carry a device time
    before it. The badge-in is evidence: the earlier session ends there, so
    sessions of one machine never overlap.
    """
    earlier = db.exec(
        select(LabSession)
        .where(
            LabSession.machine_id == machine_id,
            col(LabSession.closed_by) == SYSTEM,
            col(LabSession.closed_at) > at,
            col(LabSession.opened_at) <= at,
        )
        .order_by(col(LabSession.opened_at).desc())
    ).first()
    if earlier is not None:
        earlier.closed_at = at
        db.flush()


def _door_scan(
    db: Session,
    reader: Reader,
    badge: Badge,
    contributor: Contributor,
    at: datetime,
    event_id: str,
    rules: ScanRules,
) -> str:
    """At the door a scan toggles the person's presence in the lab (within the door's limit)."""
    present = db.exec(
        select(LabSession).where(
            LabSession.contributor_id == contributor.id,
            col(LabSession.machine_id).is_(None),
            col(LabSession.closed_at).is_(None),
        )
    ).first()
    present = _still_open(db, present, at, rules)
    if present is not None:
        close_session(db, present, at, CloseReason.BADGE_OUT, contributor.name, rules)
        return "closed"
    assert contributor.id is not None
    db.add(
        LabSession(
            contributor_id=contributor.id,
            badge_id=badge.id,
            reader_id=reader.id,
            product_id=reader.product_id,
            role=contributor.role,
            opened_at=at,
            last_activity_at=at,
            open_event_id=event_id,
        )
    )
    return "opened"


def touch_machine_session(db: Session, machine_id: int, at: datetime) -> None:
    """Machine activity keeps its operator's session from timing out."""
    session = open_session_on(db, machine_id)
    if session is not None and at > session.last_activity_at:
        session.last_activity_at = at


def close_on_offline(
    db: Session, machine_id: int, at: datetime, rules: ScanRules | None = None
) -> None:
    """A machine that goes offline ends the session at it."""
    session = open_session_on(db, machine_id)
    if session is not None:
        close_session(db, session, at, CloseReason.OFFLINE, SYSTEM, rules or ScanRules())


def close_overlong_sessions(db: Session, now: datetime, rules: ScanRules) -> int:
    """Close open sessions (machine and door) past their limit at it, flagged; returns how many."""
    earliest = now - timedelta(seconds=60)  # no limit is shorter than a minute
    rows = db.exec(
        select(LabSession, Machine)
        .join(Machine, col(Machine.id) == LabSession.machine_id, isouter=True)
        .where(col(LabSession.closed_at).is_(None), col(LabSession.opened_at) < earliest)
    ).all()
    closed = 0
    for session, machine in rows:
        if now - session.opened_at > timedelta(seconds=rules.limit_s(machine)):
            _close_at_limit(db, session, rules)
            closed += 1
    return closed


def close_idle_sessions(db: Session, now: datetime, rules: ScanRules | None = None) -> int:
    """Close sessions whose machine has been idle past its timeout; returns how many."""
    rows = db.exec(
        select(LabSession, Machine, MachineStatus)
        .join(Machine, col(Machine.id) == LabSession.machine_id)
        .join(MachineStatus, col(MachineStatus.machine_id) == Machine.id, isouter=True)
        .where(col(LabSession.closed_at).is_(None))
    ).all()
    closed = 0
    for session, machine, status in rows:
        if status is not None and status.run_id is not None:
            continue
        deadline = session.last_activity_at + timedelta(seconds=machine.idle_timeout_s)
        if deadline <= now:
            close_session(db, session, deadline, CloseReason.TIMEOUT, SYSTEM, rules or ScanRules())
            closed += 1
    return closed
