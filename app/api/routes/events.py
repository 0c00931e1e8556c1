"""Device events over HTTP, and what ingest could not use (unknown scans, rejects).

Events posted here go through the same lab/v1 codec and the same recorder as
MQTT ones, so validation and dedupe are identical. A machine or reader is named
by its name or its address, as in lab/v1 topics.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlmodel import col, or_, select

from app.api.deps import API_PREFIX, After, Device, Limit, Offset, SessionDep
from app.api.deps import Reader as ReaderKey
from app.api.pages import Page
from app.crud import SortKey, page
from app.errors import InvalidInput, NotFound
from app.fields import MAX_ID
from app.ingest.routing import within_clock
from app.lab.activity import DecodeReject, UnknownScan
from app.lab.recorder import BatchOutcome, record_event
from app.lab.schemas import (
    BadgeEventIn,
    EventOutcome,
    MachineEventIn,
    RejectPublic,
    UnknownScanPublic,
)
from app.lab.service import find_machine, find_reader
from app.lab.sessions import ScanRules
from devices.events import BadgeScan, DecodeError, MachineState
from devices.labv1 import LabV1Codec

router = APIRouter(prefix=API_PREFIX, tags=["events"])


def _payload(body: MachineEventIn | BadgeEventIn, drop: str) -> bytes:
    fields = body.model_dump(mode="json", exclude_none=True, exclude={drop})
    return json.dumps(fields).encode()


def _rules(request: Request) -> ScanRules:
    return ScanRules.from_settings(request.app.state.settings)


def _decoded(topic: str, payload: bytes) -> BadgeScan | MachineState:
    received_at = datetime.now(UTC)
    results = LabV1Codec().decode(topic, payload, received_at)
    errors = [r for r in results if isinstance(r, DecodeError)]
    events = [r for r in results if isinstance(r, BadgeScan | MachineState)]
    if errors or not events:
        reason = errors[0].reason if errors else "nothing to record"
        raise InvalidInput(f"event refused: {reason}")
    checked = within_clock(events[0], received_at)
    assert isinstance(checked, BadgeScan | MachineState)
    return checked


def _record(request: Request, db: SessionDep, event: BadgeScan | MachineState) -> BatchOutcome:
    """Record one decoded event as ingest would, commit, and tell the live stream."""
    outcome = BatchOutcome()
    record_event(db, event, "http", _rules(request), outcome)
    db.commit()
    if outcome.machines:
        request.app.state.hub.publish(outcome.machines)
    request.app.state.ingest.send_replies(outcome.replies)
    return outcome


SCAN_ORDER = (SortKey(col(UnknownScan.at), True), SortKey(col(UnknownScan.id), True))


@router.post("/events/badge", response_model=EventOutcome)
def post_badge_event(
    request: Request, db: SessionDep, _key: Device, body: BadgeEventIn
) -> EventOutcome:
    """Record a badge scan from an HTTP reader (role device)."""
    reader = find_reader(db, body.reader)
    if reader is None or reader.id is None:
        raise NotFound(f"no active reader with the name or address {body.reader!r}")
    event = _decoded(f"lab/v1/badge/reader-{reader.id}", _payload(body, "reader"))
    assert isinstance(event, BadgeScan)
    outcome = _record(request, db, dataclasses.replace(event, reader=str(reader.id)))
    scan = outcome.scans[0] if outcome.scans else "duplicate"
    reason = outcome.replies[0].reason if outcome.replies else None
    return EventOutcome(
        event_id=event.event_id, recorded=bool(outcome.applied), outcome=scan, reason=reason
    )


@router.post("/events/machine", response_model=EventOutcome)
def post_machine_event(
    request: Request, db: SessionDep, _key: Device, body: MachineEventIn
) -> EventOutcome:
    """Record a machine state from an HTTP device (role device)."""
    machine = find_machine(db, body.machine)
    if machine is None or machine.id is None:
        raise NotFound(f"no active machine with the name or address {body.machine!r}")
    event = _decoded(f"lab/v1/machine/machine-{machine.id}/state", _payload(body, "machine"))
    assert isinstance(event, MachineState)
    outcome = _record(request, db, dataclasses.replace(event, machine=str(machine.id)))
    recorded = bool(outcome.applied)
    return EventOutcome(
        event_id=event.event_id, recorded=recorded, outcome="applied" if recorded else "duplicate"
    )


@router.get("/unknown-scans", response_model=Page[UnknownScanPublic])
def list_unknown_scans(
    db: SessionDep,
    _key: ReaderKey,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    reader_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[UnknownScan]:
    """Scans that opened nothing, newest first, so the cards can be enrolled."""
    query = select(UnknownScan)
    if reader_id is not None:
        query = query.where(UnknownScan.reader_id == reader_id)
    found = page(db, UnknownScan, query, SCAN_ORDER, limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/rejects", response_model=Page[RejectPublic])
def list_rejects(
    db: SessionDep,
    _key: ReaderKey,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    source: Annotated[
        str | None, Query(max_length=300, description="Topic or port prefix.")
    ] = None,
) -> Page[DecodeReject]:
    """Recent messages that did not decode (a bounded number are kept)."""
    query = select(DecodeReject)
    if source:
        query = query.where(
            or_(
                DecodeReject.source == source,
                col(DecodeReject.source).startswith(source, autoescape=True),
            )
        )
    found = page(
        db, DecodeReject, query, (SortKey(col(DecodeReject.id), True),), limit, offset, after
    )
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)
