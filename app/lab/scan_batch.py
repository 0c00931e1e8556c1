"""Badge scans at a machine applied in memory within a set-based batch, by the ORM path's rules.

A scan is taken here when the batch has read (`app.lab.scan_book`) everything
the ORM path (`app.lab.recorder.record_badge_scan` with `app.lab.access.gate`,
the reference) would ask for. Allowed scans open, close or hand over sessions
and claim the runs started shortly before a badge-in; unknown, revoked and
denied scans are kept as rows (and a denied newcomer still ends someone else's
session); `app.lab.state_batch` writes it all with Core. A scan that meets a
session past its limit, or that is timed before a session's open or close at
its machine, is left with the machine's later events to the ORM path (the
in-order case is the common one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel

from app.lab.access.gate import ScanReply
from app.lab.access.models import DeniedScan, DenyReason
from app.lab.activity import CloseReason, LabSession, UnknownScan
from app.lab.batch_rows import HeldMachine, HeldSession, NeedsOrm
from app.lab.scan_book import Card, ScanBook, ScanPlace, repeated
from devices.events import BadgeScan


def apply_scan(
    m: HeldMachine,
    scan: BadgeScan,
    place: ScanPlace,
    book: ScanBook,
    grace_s: float,
    debounce_s: float,
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
    repeat = repeated(book.heard, key, at, scan.event_id, debounce_s)
    book.heard.setdefault(key, []).append((at, scan.event_id))
    if reason is None:
        assert card is not None
        done = "debounced" if repeat else _allowed(m, scan, place, card, book, grace_s)
        return done, ScanReply(place.reader_id, True, None, scan.event_id)
    done = "denied"
    if reason == DenyReason.UNKNOWN_CARD:
        done = "unknown"
        row = _row(
            UnknownScan,
            reader_id=place.reader_id,
            card_id=scan.badge,
            reason="unknown" if card is None else "revoked",
            at=at,
            event_id=scan.event_id,
        )
        book.unknown_rows.append(row)
    if repeated(book.denied, key, at, scan.event_id, debounce_s):
        return "debounced", None
    book.denied.setdefault(key, []).append((at, scan.event_id))
    person = card if reason != DenyReason.UNKNOWN_CARD else None
    denial = _row(
        DeniedScan,
        event_id=scan.event_id,
        reader_id=place.reader_id,
        machine_id=m.id,
        card_id=scan.badge,
        contributor_id=person.contributor_id if person else None,
        reason=reason,
        detail=detail[:500],
        at=at,
    )
    book.denied_rows.append(denial)
    if (
        person is not None
        and current is not None
        and current.contributor_id != person.contributor_id
        and current.opened_at <= at
    ):
        # A denied newcomer ends someone else's session (`gate.record_denial`).
        _close(m, current, at, CloseReason.HANDOVER, person.name)
    return done, ScanReply(place.reader_id, False, reason, scan.event_id)


def _row(model: type[SQLModel], **given: Any) -> dict[str, Any]:
    """A Core insert row of a table model: the given columns and the model's defaults
    (building the model object itself costs more than the insert)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    row = {
        c.name: model.model_fields[c.name].get_default(call_default_factory=True)
        for c in table.columns
        if c.name not in given and c.name != "id"
    }
    row.update(given)
    return row


def _close(m: HeldMachine, session: HeldSession, at: datetime, reason: str, by: str) -> None:
    m.touch_session(session)
    session.closed_at = max(at, session.opened_at)
    session.close_reason = reason
    session.closed_by = by[:200]


def _allowed(
    m: HeldMachine, scan: BadgeScan, place: ScanPlace, card: Card, book: ScanBook, grace_s: float
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
    m: HeldMachine, scan: BadgeScan, place: ScanPlace, card: Card, book: ScanBook, grace_s: float
) -> None:
    """Open the scanner's session and give it the unattributed runs it may claim."""
    assert card.contributor_id is not None
    key = (m.id, card.contributor_id)
    known = book.last_product.get(key)
    product = place.reader_product_id or (known[1] if known else None)
    row = _row(
        LabSession,
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
        book.next_id, card.contributor_id, product, scan.at, None, scan.at, new=row
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
