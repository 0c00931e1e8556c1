"""The badge-in gate: whether a scan at a reader may open a session, and the record when not.

A scan is screened before it is applied to sessions. At a machine inside an
out-of-service window (`app.lab.downtime`) every badge-in is denied
(`out_of_service`). At a machine that requires an induction, a person without a valid one is denied
(`not_inducted`, `expired`, `revoked`); an unknown or revoked card is denied
everywhere (`unknown_card`). A person who holds the machine's open session is
never denied: their scan is a badge-out. A denied newcomer at a machine someone
else is using still ends that session (a handover to nobody), so the interlock
switches the machine off once no run needs it. Door readers need no induction.

Every denial is one `DeniedScan` row per event id, so a redelivered scan is
recorded once; a card held at a reader that repeats it within the debounce
window is recorded (and counted) once too. The reply to the reader is
returned to the caller, which sends it only after the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.lab.access.inductions import induction_problem
from app.lab.access.models import DeniedScan, DenyReason
from app.lab.activity import CloseReason
from app.lab.downtime import MachineDowntime, machine_out_of_service, windows_between
from app.lab.models import BadgeStatus, Contributor, Machine, Reader
from app.lab.sessions import card_holder, close_session, open_session_on


@dataclass(frozen=True, slots=True)
class ScanReply:
    """What a reader is told about one scan: allowed or not, why, and which scan."""

    reader_id: int
    allowed: bool
    reason: str | None
    scan_id: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one scan; `contributor` is known for every reason but unknown_card."""

    reason: DenyReason | None
    contributor: Contributor | None = None
    detail: str = ""

    @property
    def allowed(self) -> bool:
        """Whether the scan may go on to open or close a session."""
        return self.reason is None


def _holder(db: Session, card_id: str) -> Contributor | None:
    """The active contributor holding an active badge with this card id."""
    badge, person = card_holder(db, card_id)
    if badge is None or badge.status != BadgeStatus.ACTIVE:
        return None
    return person if person is not None and person.active else None


_DOWNTIME = "labledger.downtime_windows"


def remember_downtime(db: Session, machine_ids: set[int], scans_at: list[datetime]) -> None:
    """Read the out-of-service windows of a batch's machines over its scans in one statement,
    for `screen` (otherwise one statement per scan)."""
    if not machine_ids or not scans_at:
        return
    start, end = min(scans_at), max(scans_at) + timedelta(microseconds=1)
    windows = windows_between(db, start, end, machine_ids)
    db.info[_DOWNTIME] = (db.get_transaction(), machine_ids, start, end, windows)


def _out_of_service(db: Session, machine_id: int, at: datetime) -> MachineDowntime | None:
    """`machine_out_of_service`, answered from `remember_downtime` when it covers the scan."""
    held = db.info.get(_DOWNTIME)
    if held is None or held[0] is not db.get_transaction():
        return machine_out_of_service(db, machine_id, at)
    _transaction, machine_ids, start, end, windows = held
    if machine_id not in machine_ids or not start <= at < end:
        return machine_out_of_service(db, machine_id, at)
    return covering_window(windows, machine_id, at)


def screen(db: Session, reader: Reader, card_id: str, at: datetime) -> Verdict:
    """Decide whether a scan may be applied, without changing anything."""
    person = _holder(db, card_id)
    if person is None:
        return Verdict(DenyReason.UNKNOWN_CARD, detail=UNKNOWN_CARD_DETAIL)
    if reader.machine_id is None:
        return Verdict(None, person)
    machine = db.get(Machine, reader.machine_id)
    if machine is None:
        return Verdict(None, person)
    current = open_session_on(db, reader.machine_id)
    if current is not None and current.contributor_id == person.id:
        return Verdict(None, person)
    window = _out_of_service(db, reader.machine_id, at)
    if window is not None:
        return Verdict(
            DenyReason.OUT_OF_SERVICE, person, detail=out_of_service_detail(machine.name, window)
        )
    if not machine.requires_induction:
        return Verdict(None, person)
    assert person.id is not None
    problem = induction_problem(db, person.id, reader.machine_id, at)
    return Verdict(problem, person, detail=induction_detail(machine.name) if problem else "")


UNKNOWN_CARD_DETAIL = "card not enrolled or revoked"


def out_of_service_detail(machine_name: str, window: MachineDowntime) -> str:
    """Why a badge-in was denied during an out-of-service window (kept with the denial)."""
    return f"{machine_name} is out of service" + (f": {window.reason}" if window.reason else "")


def induction_detail(machine_name: str) -> str:
    """Why a badge-in was denied for want of an induction."""
    return f"no valid induction for {machine_name}"


def covering_window(
    windows: list[MachineDowntime], machine_id: int, at: datetime
) -> MachineDowntime | None:
    """The window that puts the machine out of service at `at` (the latest begun), if any."""
    covering = [
        w
        for w in windows
        if w.machine_id == machine_id
        and w.starts_at <= at
        and (w.ends_at is None or w.ends_at > at)
    ]
    return max(covering, key=lambda w: (w.starts_at, w.id or 0)) if covering else None


def is_repeat(
    db: Session, reader_id: int, card_id: str, at: datetime, event_id: str, debounce_s: float
) -> bool:
    """Whether the same card was denied at the same reader within the debounce window."""
    earlier = db.exec(
        select(DeniedScan.id).where(
            DeniedScan.reader_id == reader_id,
            DeniedScan.card_id == card_id,
            DeniedScan.event_id != event_id,
            col(DeniedScan.at) <= at,
            col(DeniedScan.at) > at - timedelta(seconds=debounce_s),
        )
    ).first()
    return earlier is not None


def record_denial(
    db: Session, reader: Reader, card_id: str, at: datetime, event_id: str, verdict: Verdict
) -> None:
    """Keep the denied scan; a denied newcomer ends someone else's open session (handover)."""
    assert reader.id is not None and verdict.reason is not None
    person = verdict.contributor
    db.add(
        DeniedScan(
            event_id=event_id,
            reader_id=reader.id,
            machine_id=reader.machine_id,
            card_id=card_id,
            contributor_id=person.id if person else None,
            reason=verdict.reason,
            detail=verdict.detail[:500],
            at=at,
        )
    )
    if person is None or reader.machine_id is None:
        return
    current = open_session_on(db, reader.machine_id)
    if current is not None and current.contributor_id != person.id and current.opened_at <= at:
        close_session(db, current, at, CloseReason.HANDOVER, person.name)
