"""Badge scans at a machine applied in memory within a set-based batch, by the ORM path's rules.

A scan is taken here when the batch has read everything the ORM path
(`app.lab.recorder.record_badge_scan` with `app.lab.access.gate`, the
reference) would ask for: the cards with their holders, the out-of-service
windows, the inductions, the earlier scans and denials within the debounce
window, each person's last product at the machine and the unattributed runs a
badge-in could claim. Allowed scans open, close or hand over sessions; unknown,
revoked and denied ones are kept as rows (and a denied newcomer still ends
someone else's session), all written with Core by `app.lab.state_batch`. A scan
that meets a session past its limit, or that is timed before a session's open
or close at its machine, is left with the machine's later events to the ORM
path (the in-order case is the common one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, func, or_, select
from sqlalchemy.engine import Connection

from app.lab.access.gate import (
    UNKNOWN_CARD_DETAIL,
    ScanReply,
    covering_window,
    induction_detail,
    out_of_service_detail,
)
from app.lab.access.inductions import problem_among
from app.lab.access.models import (
    DeniedScan,
    DenyReason,
    Induction,
    MachineGroup,
    MachineGroupMember,
)
from app.lab.activity import CloseReason, DeviceEvent, LabSession, MachineRun, UnknownScan
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
_DS: Table = DeniedScan.__table__  # type: ignore[attr-defined]
_US: Table = UnknownScan.__table__  # type: ignore[attr-defined]
_I: Table = Induction.__table__  # type: ignore[attr-defined]
_G: Table = MachineGroup.__table__  # type: ignore[attr-defined]
_GM: Table = MachineGroupMember.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ScanPlace:
    """A scan's reader and the machine rules it is judged by."""

    reader_id: int
    reader_product_id: int | None
    machine_name: str
    requires_induction: bool
    limit_s: float


@dataclass(frozen=True, slots=True)
class _Card:
    """An enrolled card; `usable`: an active badge of an active person."""

    badge_id: int
    contributor_id: int | None
    name: str
    role: str | None
    usable: bool


@dataclass
class ScanBook:
    """What a batch's scans need, read once per batch, and kept current as they are folded."""

    cards: dict[str, _Card] = field(default_factory=dict)  # enrolled cards only
    downtime: list[MachineDowntime] = field(default_factory=list)
    inductions: dict[tuple[int, int], list[Induction]] = field(default_factory=dict)
    heard: dict[tuple[int, str], list[tuple[datetime, str]]] = field(default_factory=dict)
    denied: dict[tuple[int, str], list[tuple[datetime, str]]] = field(default_factory=dict)
    last_product: dict[tuple[int, int], tuple[datetime, int]] = field(default_factory=dict)
    claimable: dict[int, list[HeldRun]] = field(default_factory=dict)  # runs with no operator
    next_id: int = -1  # sessions opened in the batch have negative ids until inserted
    unknown_rows: list[dict[str, Any]] = field(default_factory=list)
    denied_rows: list[dict[str, Any]] = field(default_factory=list)

    def screen(
        self, m: HeldMachine, place: ScanPlace, card: _Card | None, at: datetime
    ) -> tuple[DenyReason | None, str]:
        """`gate.screen` over what the batch read: why the scan is denied (None: allowed)."""
        if card is None or not card.usable or card.contributor_id is None:
            return DenyReason.UNKNOWN_CARD, UNKNOWN_CARD_DETAIL
        current = m.open_session()
        if current is not None and current.contributor_id == card.contributor_id:
            return None, ""
        window = covering_window(self.downtime, m.id, at)
        if window is not None:
            return DenyReason.OUT_OF_SERVICE, out_of_service_detail(place.machine_name, window)
        if not place.requires_induction:
            return None, ""
        found = self.inductions.get((card.contributor_id, m.id), [])
        problem = problem_among(found, at)
        return problem, induction_detail(place.machine_name) if problem else ""


def _repeat(
    history: dict[tuple[int, str], list[tuple[datetime, str]]],
    key: tuple[int, str],
    at: datetime,
    event_id: str,
    debounce_s: float,
) -> bool:
    """Whether `history` holds another scan of the card at the reader within the debounce
    window up to `at` (as `sessions._is_repeat` and `gate.is_repeat` ask the database)."""
    since = at - timedelta(seconds=debounce_s)
    return any(since < t <= at and other != event_id for t, other in history.get(key, []))


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
    for card_id, badge_id, status, person, active, name, role in rows:
        usable = status == BadgeStatus.ACTIVE and person is not None and bool(active)
        book.cards[card_id] = _Card(badge_id, person, name or "", role, usable)
    machine_ids = list({m for m, _s, _p in scans})
    first = min(scan.at for _m, scan, _p in scans)
    last = max(scan.at for _m, scan, _p in scans)
    book.downtime = [
        MachineDowntime(**dict(row._mapping))
        for row in connection.execute(
            select(_D).where(
                _D.c.machine_id.in_(machine_ids),
                _D.c.starts_at <= last,
                or_(_D.c.ends_at.is_(None), _D.c.ends_at > first),
            )
        )
    ]
    readers = {p.reader_id for _m, _s, p in scans}
    since = first - timedelta(seconds=rules.debounce_s)
    for table, history, kind in ((_E, book.heard, True), (_DS, book.denied, False)):
        query = select(table.c.reader_id, table.c.card_id, table.c.at, table.c.event_id).where(
            table.c.reader_id.in_(readers),
            table.c.card_id.in_(card_ids),
            table.c.at > since,
            table.c.at <= last,
        )
        if kind:
            query = query.where(table.c.kind == "badge")
        for reader_id, card_id, at, event_id in connection.execute(query):
            history.setdefault((reader_id, card_id), []).append((at, event_id))
    people = {c.contributor_id for c in book.cards.values() if c.contributor_id is not None}
    if people:
        _read_last_products(connection, machine_ids, people, book)
        inducted = [m for m, _s, p in scans if p.requires_induction]
        if inducted:
            _read_inductions(connection, set(inducted), people, book)
    _read_claimable(connection, machines, machine_ids, first, last, rules.grace_s, book)
    return book


def _read_last_products(
    connection: Connection, machine_ids: list[int], people: set[int], book: ScanBook
) -> None:
    """Each person's last product at each machine (`sessions._last_product`)."""
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


def _read_inductions(
    connection: Connection, machine_ids: set[int], people: set[int], book: ScanBook
) -> None:
    """The inductions covering each person at each machine, newest grant first
    (`inductions.covering`: the machine's own, and those of its active groups)."""
    groups: dict[int, set[int]] = {m: set() for m in machine_ids}
    for group_id, machine_id in connection.execute(
        select(_GM.c.group_id, _GM.c.machine_id)
        .join(_G, _G.c.id == _GM.c.group_id)
        .where(_GM.c.machine_id.in_(machine_ids), _G.c.active)
    ):
        groups[machine_id].add(group_id)
    every_group = set().union(*groups.values())
    scope: ColumnElement[bool] = _I.c.machine_id.in_(machine_ids)
    if every_group:
        scope = or_(scope, _I.c.group_id.in_(every_group))
    rows = [
        Induction(**dict(row._mapping))
        for row in connection.execute(select(_I).where(_I.c.contributor_id.in_(people), scope))
    ]
    rows.sort(key=lambda i: (i.granted_at, i.id or 0), reverse=True)
    for machine_id in machine_ids:
        for row in rows:
            if row.machine_id == machine_id or row.group_id in groups[machine_id]:
                book.inductions.setdefault((row.contributor_id, machine_id), []).append(row)


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
) -> tuple[str, ScanReply | None]:
    """Apply one scan to the machine's rows; returns what it did (as `handle_scan` or the
    gate) and the reply for the reader (None for a debounced denial).

    Raises `NeedsOrm` before changing anything when the ORM path must judge it."""
    at = scan.at
    if any(x.opened_at > at or (x.closed_at is not None and x.closed_at > at) for x in m.sessions):
        raise NeedsOrm  # a session after the scan: not the in-order case
    current = m.open_session()
    if current is not None and at - current.opened_at > timedelta(seconds=place.limit_s):
        raise NeedsOrm  # closed at its limit, flagged, by the ORM path
    card = book.cards.get(scan.badge)
    reason, detail = book.screen(m, place, card, at)
    key = (place.reader_id, scan.badge)
    repeat = _repeat(book.heard, key, at, scan.event_id, s)
    book.heard.setdefault(key, []).append((at, scan.event_id))
    if reason is None:
        assert card is not None
        done = "debounced" if repeat else _allowed(m, scan, place, card, book, grace_s)
        return done, ScanReply(place.reader_id, True, None, scan.event_id)
    done = "denied"
    if reason == DenyReason.UNKNOWN_CARD:
        done = "unknown"
        row = UnknownScan(
            reader_id=place.reader_id,
            card_id=scan.badge,
            reason="unknown" if card is None else "revoked",
            at=at,
            event_id=scan.event_id,
        )
        book.unknown_rows.append(_columns(_US, row))
    if _repeat(book.denied, key, at, scan.event_id, s):
        return "debounced", None
    book.denied.setdefault(key, []).append((at, scan.event_id))
    person = card if reason != DenyReason.UNKNOWN_CARD else None
    denial = DeniedScan(
        event_id=scan.event_id,
        reader_id=place.reader_id,
        machine_id=m.id,
        card_id=scan.badge,
        contributor_id=person.contributor_id if person else None,
        reason=reason,
        detail=detail[:500],
        at=at,
    )
    book.denied_rows.append(_columns(_DS, denial))
    if (
        person is not None
        and current is not None
        and current.contributor_id != person.contributor_id
        and current.opened_at <= at
    ):
        # A denied newcomer ends someone else's session (`gate.record_denial`).
        _close(m, current, at, CloseReason.HANDOVER, person.name)
    return done, ScanReply(place.reader_id, False, reason, scan.event_id)


def _columns(table: Table, row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in table.columns if c.name != "id"}


def _close(m: HeldMachine, session: HeldSession, at: datetime, reason: str, by: str) -> None:
    m.touch_session(session)
    session.closed_at = max(at, session.opened_at)
    session.close_reason = reason
    session.closed_by = by[:200]


def _allowed(
    m: HeldMachine, scan: BadgeScan, place: ScanPlace, card: _Card, book: ScanBook, grace_s: float
) -> str:
    """An allowed scan: a badge-out, a handover, or a badge-in (`handle_scan`)."""
    current = m.open_session()
    outcome = "opened"
    if current is not None:
        if current.contributor_id == card.contributor_id:
            _close(m, current, scan.at, CloseReason.BADGE_OUT, card.name)
            return "closed"
        _close(m, current, scan.at, CloseReason.HANDOVER, card.name)
        outcome = "handover"
    _open(m, scan, place, card, book, grace_s)
    return outcome


def _open(
    m: HeldMachine, scan: BadgeScan, place: ScanPlace, card: _Card, book: ScanBook, grace_s: float
) -> None:
    """Open the scanner's session and give it the unattributed runs it may claim."""
    assert card.contributor_id is not None
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
    session = HeldSession(
        book.next_id, card.contributor_id, product, scan.at, None, scan.at, new=_columns(_S, row)
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
