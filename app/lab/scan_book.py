"""What a set-based batch's badge scans need, read once per batch (`app.lab.scan_batch`).

Per batch, one statement each: the cards with their holders, the
out-of-service windows, the inductions (with the machines' active groups), the
earlier scans and denials within the debounce window, each person's last
product at each machine, and the unattributed runs a badge-in could claim. The
reads are made under the batch's status locks, so no other replica changes
what they cover until the batch commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, func, or_, select
from sqlalchemy.engine import Connection

from app.lab.access.gate import (
    UNKNOWN_CARD_DETAIL,
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
from app.lab.activity import DeviceEvent, LabSession, MachineRun
from app.lab.batch_rows import HeldMachine, HeldRun
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
class Card:
    """An enrolled card; `usable`: an active badge of an active person."""

    badge_id: int
    contributor_id: int | None
    name: str
    role: str | None
    usable: bool


@dataclass
class ScanBook:
    """What a batch's scans need, read once per batch, and kept current as they are folded."""

    cards: dict[str, Card] = field(default_factory=dict)  # enrolled cards only
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
        self, m: HeldMachine, place: ScanPlace, card: Card | None, at: datetime
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


def repeated(
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
        book.cards[card_id] = Card(badge_id, person, name or "", role, usable)
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
