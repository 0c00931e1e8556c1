"""Sessions, runs, machine state and the live stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlmodel import col, select
from sse_starlette import EventSourceResponse

from app.accounting.products.tables import Product
from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.errors import Conflict
from app.fields import MAX_ID
from app.lab.activity import CloseReason, LabSession, MachineRun, RunStatus
from app.lab.models import Contributor, Machine
from app.lab.queries import MachineStateView, machine_state
from app.lab.schemas import RunAssignment, RunPublic, SessionPublic, SessionTag
from app.lab.sessions import ScanRules, close_session

router = APIRouter(prefix=API_PREFIX, tags=["sessions and runs"])
SESSION_ORDER = (SortKey(col(LabSession.opened_at), True), SortKey(col(LabSession.id), True))
RUN_ORDER = (SortKey(col(MachineRun.started_at), True), SortKey(col(MachineRun.id), True))
RowPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("/sessions", response_model=Page[SessionPublic])
def list_sessions(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    machine_id: OptionalId = None,
    contributor_id: OptionalId = None,
    product_id: OptionalId = None,
    open: bool | None = None,
    since: Annotated[datetime | None, Query(description="Opened at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Opened before.")] = None,
) -> Page[LabSession]:
    """Sessions, newest first, by machine, contributor, product, openness or time range."""
    query = select(LabSession)
    if machine_id is not None:
        query = query.where(LabSession.machine_id == machine_id)
    if contributor_id is not None:
        query = query.where(LabSession.contributor_id == contributor_id)
    if product_id is not None:
        query = query.where(LabSession.product_id == product_id)
    if open is not None:
        query = query.where(
            col(LabSession.closed_at).is_(None) if open else col(LabSession.closed_at).is_not(None)
        )
    if since is not None:
        query = query.where(col(LabSession.opened_at) >= _aware(since))
    if until is not None:
        query = query.where(col(LabSession.opened_at) < _aware(until))
    found = page(db, LabSession, query, SESSION_ORDER, limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/sessions/{session_id}", response_model=SessionPublic)
def read_session(db: SessionDep, _key: Reader, session_id: RowPath) -> LabSession:
    """One session."""
    return get_or_404(db, LabSession, session_id)


@router.post("/sessions/{session_id}/close", response_model=SessionPublic)
def close_session_route(
    request: Request, db: SessionDep, key: Writer, session_id: RowPath
) -> LabSession:
    """An operator closes an open session (reason `admin`; past its limit, `max_length`)."""
    session = get_or_404(db, LabSession, session_id)
    if session.closed_at is not None:
        raise Conflict(f"session {session_id} is already closed ({session.close_reason})")
    rules = ScanRules.from_settings(request.app.state.settings)
    close_session(db, session, datetime.now(UTC), CloseReason.ADMIN, f"key:{key.name}", rules)
    db.commit()
    return session


@router.patch("/sessions/{session_id}", response_model=SessionPublic)
def tag_session(db: SessionDep, _key: Writer, session_id: RowPath, body: SessionTag) -> LabSession:
    """Tag a session with a product; the runs it attributed follow unless assigned by hand."""
    session = get_or_404(db, LabSession, session_id)
    if body.product_id is not None:
        get_or_404(db, Product, body.product_id)
    session.product_id = body.product_id
    runs = db.exec(select(MachineRun).where(MachineRun.session_id == session.id)).all()
    for run in runs:
        if run.attribution != "manual":
            run.product_id = body.product_id
    db.commit()
    return session


def _run_public(run: MachineRun) -> RunPublic:
    wall = (run.ended_at - run.started_at).total_seconds() if run.ended_at else None
    busy = run.busy_s
    if run.status == RunStatus.RUNNING and run.busy_since is not None:
        busy += max(0.0, (datetime.now(UTC) - run.busy_since).total_seconds())
    return RunPublic(**run.model_dump(exclude={"busy_s"}), busy_s=busy, wall_s=wall)


@router.get("/runs", response_model=Page[RunPublic])
def list_runs(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    machine_id: OptionalId = None,
    operator_id: OptionalId = None,
    product_id: OptionalId = None,
    open: bool | None = None,
    unattributed: Annotated[bool | None, Query(description="Only runs with no operator.")] = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Started before.")] = None,
) -> Page[RunPublic]:
    """Runs, newest first, by machine, operator, product, openness, attribution or time range."""
    query = select(MachineRun)
    if machine_id is not None:
        query = query.where(MachineRun.machine_id == machine_id)
    if operator_id is not None:
        query = query.where(MachineRun.operator_id == operator_id)
    if product_id is not None:
        query = query.where(MachineRun.product_id == product_id)
    if open is not None:
        query = query.where(
            col(MachineRun.ended_at).is_(None) if open else col(MachineRun.ended_at).is_not(None)
        )
    if unattributed is not None:
        query = query.where(
            col(MachineRun.operator_id).is_(None)
            if unattributed
            else col(MachineRun.operator_id).is_not(None)
        )
    if since is not None:
        query = query.where(col(MachineRun.started_at) >= _aware(since))
    if until is not None:
        query = query.where(col(MachineRun.started_at) < _aware(until))
    found = page(db, MachineRun, query, RUN_ORDER, limit, offset, after)
    items = [_run_public(r) for r in found.rows]
    return Page(items=items, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunPublic)
def read_run(db: SessionDep, _key: Reader, run_id: RowPath) -> RunPublic:
    """One run."""
    return _run_public(get_or_404(db, MachineRun, run_id))


@router.post("/runs/{run_id}/assign", response_model=RunPublic)
def assign_run(db: SessionDep, _key: Writer, run_id: RowPath, body: RunAssignment) -> RunPublic:
    """Assign a run (typically an unattributed one) to an operator and a product."""
    run = get_or_404(db, MachineRun, run_id)
    operator = get_or_404(db, Contributor, body.operator_id)
    if operator.is_commons_fund:
        raise Conflict("a run's operator is a person, not the commons fund")
    if body.product_id is not None:
        get_or_404(db, Product, body.product_id)
    run.operator_id = body.operator_id
    run.product_id = body.product_id
    run.attribution = "manual"
    db.commit()
    return _run_public(run)


@router.get("/machines/{machine_id}/state", response_model=MachineStateView, tags=["machines"])
def read_machine_state(db: SessionDep, _key: Reader, machine_id: RowPath) -> MachineStateView:
    """What the machine is doing now: state, current run and progress, operator, since when."""
    return machine_state(db, get_or_404(db, Machine, machine_id))


@router.get(
    "/stream",
    tags=["live"],
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
)
async def stream(request: Request, _key: Reader) -> EventSourceResponse:
    """Server-sent events: `change` with the ids of machines whose state changed.

    A logged-in browser may use its session cookie instead of a Bearer key.
    """
    response: EventSourceResponse = request.app.state.hub.response()
    return response
