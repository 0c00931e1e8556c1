"""Badge scans at a machine applied in memory within a set-based batch, by the ORM path's rules.

A scan is taken here only when the batch has read everything the ORM path
(`app.lab.recorder.record_badge_scan`, the reference) would ask for: the card
with its holder (an active badge of an active person), the out-of-service
windows, the earlier scans within the debounce window, the person's last
product at the machine and the unattributed runs a badge-in could claim. It
leaves to the ORM path a scan (and the machine's events after it) whose card is
unknown or revoked, that an out-of-service window or an induction could deny,
that meets a session past its limit, or that is timed before a session's open
or close at its machine (the in-order case is the common one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, or_, select
from sqlalchemy.engine import Connection

from app.lab.activity import CloseReason, DeviceEvent, LabSession, MachineRun
from app.lab.batch_rows import HeldMachine, HeldRun, HeldSession, NeedsOrm
from app.lab.downtime import MachineDowntime
from app.lab.models import Badge, BadgeStatus, Contributor
from app.lab.sessions import ScanRules
from devices.events import BadgeScan

_E: Table = DeviceEvent.__table__  # type: ignore[attr-defined]
_R: Table = MachineRun.__table__  # type: ignore[attr-defined]
_S: Table = LabSession.__table__  # type: ignore[attr-defined]
_B: Table = Badge.__table__  # type: ignore[attr-defined]
_C: Table = Contributor.__table__  # type: ignore[attr-defined]
_D: Table = MachineDowntime.__table__  # type: ignore[attr-defined]
_SESSION_FIELDS = tuple(c.name for c in _S.columns if c.name != "id")


@dataclass(frozen=True, slots=True)
class ScanPlace:
    """A scan's reader and the machine rules it is judged by."""

    reader_id: int
    reader_product_id: int | None
    requires_induction: bool
    limit_s: float


@dataclass(frozen=True, slots=True)
class _Card:
    badge_id: int
    contributor_id: int
    name: str
    role: str | None


@dataclass
class ScanBook:
    """What a batch's scans need, read once per batch, and kept current as they are folded."""

    cards: dict[str, _Card | None] = field(default_factory=dict)  # None: unknown or unusable
    downtime: dict[int, list[tuple[datetime, datetime | None]]] = field(default_factory=dict)
    heard: dict[tuple[int, str], list[tuple[datetime, str]]] = field(default_factory=dict)
    last_product: dict[tuple[int, int], tuple[datetime, int]] = field(default_factory=dict)
    claimable: dict[int, list[HeldRun]] = field(default_factory=dict)  # runs with no operator
    next_id: int = -1  # sessions opened in the batch have negative ids until inserted

    def out_of_service(self, machine_id: int, at: datetime) -> bool:
        """Whether a window covers the machine at `at`."""
        return any(
            start <= at and (end is None or end > at) for start, end in self.downtime[machine_id]
        )

    def is_repeat(
        self, reader_id: int, card_id: str, at: datetime, event_id: str, debounce_s: float
    ) -> bool:
        """Whether the card was scanned at the reader within the debounce window before `at`."""
        since = at - timedelta(seconds=debounce_s)
        return any(
            since < t <= at and other != event_id
            for t, other in self.heard.get((reader_id, card_id), [])
        )


def read_scan_book(
    connection: Connection,
    machines: dict[int, HeldMachine],
    scans: list[tuple[int, BadgeScan, ScanPlace]],
    rules: ScanRules,
) -> ScanBook:
    """Read what the batch's scans (machine id, scan, place) need, in one statement each."""
    book = ScanBook()
    if not scans:
        return book
    card_ids = {scan.badge for _m, scan, _p in scans}
    rows = connection.execute(
        select(_B.c.card_id, _B.c.id, _B.c.status, _C.c.id, _C.c.active, _C.c.name, _C.c.role)
        .join(_C, _C.c.id == _B.c.contributor_id, isouter=True)
        .where(_B.c.card_id.in_(card_ids))
    )
    book.cards = dict.fromkeys(card_ids)
    for card_id, badge_id, status, person, active, name, role in rows:
        if status == BadgeStatus.ACTIVE and person is not None and active:
            book.cards[card_id] = _Card(badge_id, person, name, role)
    machine_ids = list({m for m, _s, _p in scans})
    first = min(scan.at for _m, scan, _p in scans)
    last = max(scan.at for _m, scan, _p in scans)
    book.downtime = {m: [] for m in machine_ids}
    for machine_id, starts, ends in connection.execute(
        select(_D.c.machine_id, _D.c.starts_at, _D.c.ends_at).where(
            _D.c.machine_id.in_(machine_ids),
            _D.c.starts_at <= last,
            or_(_D.c.ends_at.is_(None), _D.c.ends_at > first),
        )
    ):
        book.downtime[machine_id].append((starts, ends))
    readers = {p.reader_id for _m, _s, p in scans}
    for reader_id, card_id, at, event_id in connection.execute(
        select(_E.c.reader_id, _E.c.card_id, _E.c.at, _E.c.event_id).where(
            _E.c.kind == "badge",
            _E.c.reader_id.in_(readers),
            _E.c.card_id.in_(card_ids),
            _E.c.at > first - timedelta(seconds=rules.debounce_s),
            _E.c.at <= last,
        )
    ):
        book.heard.setdefault((reader_id, card_id), []).append((at, event_id))
    people = {c.contributor_id for c in book.cards.values() if c is not None}
    if people:
        ranked = (
            select(
                _S.c.machine_id,
                _S.c.contributor_id,
                _S.c.opened_at,
                _S.c.product_id,
                func.row_number()
                .over(
                    partition_by=(_S.c.machine_id, _S.c.contributor_id),
                    order_by=_S.c.opened_at.desc(),
                )
                .label("rank"),
            )
            .where(
                _S.c.machine_id.in_(machine_ids),
                _S.c.contributor_id.in_(people),
                _S.c.product_id.is_not(None),
            )
            .subquery()
        )
        for machine_id, person, opened, product, _rank in connection.execute(
            select(ranked).where(ranked.c.rank == 1)
        ):
            book.last_product[(machine_id, person)] = (opened, product)
    _read_claimable(connection, machines, machine_ids, first, last, rules.grace_s, book)
    return book


def _read_claimable(
    connection: Connection,
    machines: dict[int, HeldMachine],
    machine_ids: list[int],
    first: datetime,
    last: datetime,
    grace_s: float,
    book: ScanBook,
) -> None:
    """The runs without an operator that a badge-in of the batch could claim (`attribute_grace`),
    as the rows the batch already holds where it holds them."""
    held = {
        run.id: run
        for m in machine_ids
        for run in (machines[m].run, machines[m].latest)
        if run is not None and run.id is not None
    }
    book.claimable = {m: [] for m in machine_ids}
    rows = connection.execute(
        select(_R).where(
            _R.c.machine_id.in_(machine_ids),
            _R.c.operator_id.is_(None),
            _R.c.started_at >= first - timedelta(seconds=grace_s),
            _R.c.started_at <= last,
            or_(_R.c.ended_at.is_(None), _R.c.ended_at > first),
        )
    )
    for row in rows:
        run = held.get(row.id) or HeldRun(**dict(row._mapping))
        book.claimable[run.machine_id].append(run)


def apply_scan(
    m: HeldMachine, scan: BadgeScan, place: ScanPlace, book: ScanBook, grace_s: float, s: float
) -> str:
    """Apply one scan to the machine's rows; returns what it did, as `handle_scan` does.

    Raises `NeedsOrm` before changing anything when the ORM path must judge it."""
    at = scan.at
    if any(x.opened_at > at or (x.closed_at is not None and x.closed_at > at) for x in m.sessions):
        raise NeedsOrm  # a session after the scan: not the in-order case
    card = book.cards.get(scan.badge)
    if card is None:
        raise NeedsOrm  # unknown or revoked: kept and denied by the ORM path
    current = m.open_session()
    if current is not None and at - current.opened_at > timedelta(seconds=place.limit_s):
        raise NeedsOrm  # closed at its limit, flagged, by the ORM path
    holder = current is not None and current.contributor_id == card.contributor_id
    if not holder and (book.out_of_service(m.id, at) or place.requires_induction):
        raise NeedsOrm  # the gate may deny it (the holder's scan is a badge-out)
    repeat = book.is_repeat(place.reader_id, scan.badge, at, scan.event_id, s)
    book.heard.setdefault((place.reader_id, scan.badge), []).append((at, scan.event_id))
    if repeat:
        return "debounced"
    outcome = "opened"
    if current is not None:
        m.touch_session(current)
        current.closed_at = max(at, current.opened_at)
        current.closed_by = card.name[:200]
        if current.contributor_id == card.contributor_id:
            current.close_reason = CloseReason.BADGE_OUT
            return "closed"
        current.close_reason = CloseReason.HANDOVER
        outcome = "handover"
    _open(m, scan, place, card, book, grace_s)
    return outcome


def _open(
    m: HeldMachine, scan: BadgeScan, place: ScanPlace, card: _Card, book: ScanBook, grace_s: float
) -> None:
    """Open the scanner's session and give it the unattributed runs it may claim."""
    key = (m.id, card.contributor_id)
    known = book.last_product.get(key)
    product = place.reader_product_id or (known[1] if known else None)
    row = LabSession(
        contributor_id=card.contributor_id,
        badge_id=card.badge_id,
        machine_id=m.id,
        reader_id=place.reader_id,
        product_id=product,
        role=card.role,
        opened_at=scan.at,
        last_activity_at=scan.at,
        open_event_id=scan.event_id,
    )
    columns: dict[str, Any] = {name: getattr(row, name) for name in _SESSION_FIELDS}
    session = HeldSession(
        book.next_id, card.contributor_id, product, scan.at, None, scan.at, new=columns
    )
    book.next_id -= 1
    m.sessions.append(session)
    m.touch_session(session)
    if product is not None and (known is None or known[0] <= scan.at):
        book.last_product[key] = (scan.at, product)
    since = scan.at - timedelta(seconds=grace_s)
    runs = {id(r): r for r in (*book.claimable[m.id], *m.touched_runs.values(), m.run, m.latest)}
    for run in runs.values():
        if (
            run is not None
            and run.operator_id is None
            and since <= run.started_at <= scan.at
            and (run.ended_at is None or run.ended_at > scan.at)
        ):
            m.touch_run(run)
            run.operator_id = card.contributor_id
            run.product_id = product
            run.session_id = session.id
            run.attribution = "grace"


def session_rows(sessions: list[HeldSession]) -> list[dict[str, Any]]:
    """The insert rows of sessions opened in the batch, as folded (closed or still open)."""
    rows = []
    for session in sessions:
        assert session.new is not None
        rows.append(
            {
                **session.new,
                "product_id": session.product_id,
                "closed_at": session.closed_at,
                "close_reason": session.close_reason,
                "closed_by": session.closed_by,
                "last_activity_at": session.last_activity_at,
            }
        )
    return rows
