"""REST for access: machine groups, trainers, inductions, denied scans, interlock, edge list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel
from sqlmodel import col, select

from app.api.deps import API_PREFIX, After, Device, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID
from app.lab.access import inductions
from app.lab.access.edge import EdgeSnapshot, edge_snapshot
from app.lab.access.inductions import aware, induction_problem
from app.lab.access.models import (
    CommandStatus,
    DeniedScan,
    DeniedScanPublic,
    DenyReason,
    Induction,
    InductionCreate,
    InductionPublic,
    InductionRevoke,
    MachineGroup,
    MachineGroupCreate,
    MachineGroupPublic,
    MachineGroupUpdate,
    PowerCommand,
    PowerCommandPublic,
    PowerStatePublic,
    Trainer,
    TrainerCreate,
    TrainerPublic,
)
from app.lab.access.queries import induction_filters, induction_public, machine_power
from app.lab.models import Contributor, Machine

router = APIRouter(prefix=API_PREFIX, tags=["access"])
RowPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _now() -> datetime:
    return datetime.now(UTC)


# --- machine groups -----------------------------------------------------------


@router.get("/machine-groups", response_model=Page[MachineGroupPublic])
def list_groups(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    active: bool | None = None,
) -> Page[MachineGroupPublic]:
    """Machine groups with their machines."""
    query = select(MachineGroup)
    if active is not None:
        query = query.where(MachineGroup.active == active)
    order = (SortKey(col(MachineGroup.id)),)
    found = page(db, MachineGroup, query, order, limit, offset, after)
    items = [inductions.group_public(db, g) for g in found.rows]
    return Page(items=items, next=found.next, total=found.total, limit=limit, offset=offset)


@router.post("/machine-groups", response_model=MachineGroupPublic, status_code=201)
def create_group(db: SessionDep, _key: Writer, data: MachineGroupCreate) -> MachineGroupPublic:
    """Add a machine group (all the FDM printers)."""
    return inductions.group_public(db, inductions.create_group(db, data))


@router.get("/machine-groups/{group_id}", response_model=MachineGroupPublic)
def read_group(db: SessionDep, _key: Reader, group_id: RowPath) -> MachineGroupPublic:
    """One machine group."""
    return inductions.group_public(db, get_or_404(db, MachineGroup, group_id))


@router.patch("/machine-groups/{group_id}", response_model=MachineGroupPublic)
def update_group(
    db: SessionDep, _key: Writer, group_id: RowPath, data: MachineGroupUpdate
) -> MachineGroupPublic:
    """Rename a group or replace its machines."""
    group = inductions.update_group(db, get_or_404(db, MachineGroup, group_id), data)
    return inductions.group_public(db, group)


@router.post("/machine-groups/{group_id}/deactivate", response_model=MachineGroupPublic)
def deactivate_group(db: SessionDep, _key: Writer, group_id: RowPath) -> MachineGroupPublic:
    """Deactivate a group: its inductions and trainers stop counting; nothing is deleted."""
    group = inductions.deactivate_group(db, get_or_404(db, MachineGroup, group_id))
    return inductions.group_public(db, group)


# --- trainers -----------------------------------------------------------------


@router.get("/trainers", response_model=Page[TrainerPublic])
def list_trainers(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    contributor_id: OptionalId = None,
    machine_id: OptionalId = None,
    group_id: OptionalId = None,
    active: bool | None = None,
) -> Page[Trainer]:
    """Trainer appointments, by person, machine, group or whether still in force."""
    query = select(Trainer)
    if contributor_id is not None:
        query = query.where(Trainer.contributor_id == contributor_id)
    if machine_id is not None:
        query = query.where(Trainer.machine_id == machine_id)
    if group_id is not None:
        query = query.where(Trainer.group_id == group_id)
    if active is not None:
        revoked = col(Trainer.revoked_at)
        query = query.where(revoked.is_(None) if active else revoked.is_not(None))
    found = page(db, Trainer, query, (SortKey(col(Trainer.id)),), limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.post("/trainers", response_model=TrainerPublic, status_code=201)
def appoint_trainer(db: SessionDep, key: Writer, data: TrainerCreate) -> Trainer:
    """Make a contributor a trainer for one machine or one group."""
    return inductions.appoint_trainer(db, data, f"key:{key.name}")


@router.post("/trainers/{trainer_id}/revoke", response_model=TrainerPublic)
def revoke_trainer(db: SessionDep, key: Writer, trainer_id: RowPath) -> Trainer:
    """End a trainer appointment; inductions they granted stay valid."""
    return inductions.revoke_trainer(db, get_or_404(db, Trainer, trainer_id), f"key:{key.name}")


# --- inductions ---------------------------------------------------------------


@router.get("/inductions", response_model=Page[InductionPublic])
def list_inductions(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    contributor_id: OptionalId = None,
    machine_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Covering this machine (groups included).")
    ] = None,
    group_id: OptionalId = None,
    revoked: bool | None = None,
) -> Page[InductionPublic]:
    """Inductions, newest grant first, each with its status now."""
    query = select(Induction)
    for clause in induction_filters(db, contributor_id, machine_id, group_id):
        query = query.where(clause)  # type: ignore[arg-type]
    if revoked is not None:
        when = col(Induction.revoked_at)
        query = query.where(when.is_not(None) if revoked else when.is_(None))
    found = page(
        db,
        Induction,
        query,
        (SortKey(col(Induction.granted_at), True), SortKey(col(Induction.id), True)),
        limit,
        offset,
        after,
    )
    now = _now()
    items = [induction_public(r, now) for r in found.rows]
    return Page(items=items, next=found.next, total=found.total, limit=limit, offset=offset)


@router.post("/inductions", response_model=InductionPublic, status_code=201)
def grant_induction(db: SessionDep, key: Writer, data: InductionCreate) -> InductionPublic:
    """Record an induction granted by a trainer for the machine or group."""
    return induction_public(inductions.grant_induction(db, data, f"key:{key.name}"), _now())


@router.get("/inductions/{induction_id}", response_model=InductionPublic)
def read_induction(db: SessionDep, _key: Reader, induction_id: RowPath) -> InductionPublic:
    """One induction."""
    return induction_public(get_or_404(db, Induction, induction_id), _now())


@router.post("/inductions/{induction_id}/revoke", response_model=InductionPublic)
def revoke_induction(
    db: SessionDep, key: Writer, induction_id: RowPath, body: InductionRevoke
) -> InductionPublic:
    """Revoke an induction with a reason; it stays on record."""
    row = get_or_404(db, Induction, induction_id)
    return induction_public(
        inductions.revoke_induction(db, row, body.reason, f"key:{key.name}"), _now()
    )


class AccessCheck(BaseModel):
    """Whether a contributor may use a machine at a moment, and why not."""

    contributor_id: int
    machine_id: int
    at: datetime
    requires_induction: bool
    allowed: bool
    reason: DenyReason | None


@router.get("/access/check", response_model=AccessCheck)
def check_access(
    db: SessionDep,
    _key: Reader,
    contributor_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    machine_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    at: Annotated[datetime | None, Query(description="When (default now).")] = None,
) -> AccessCheck:
    """Would this person be let in at this machine (induction only; cards are not looked at)."""
    get_or_404(db, Contributor, contributor_id)
    machine = get_or_404(db, Machine, machine_id)
    moment = aware(at) if at else _now()
    problem = (
        induction_problem(db, contributor_id, machine_id, moment)
        if machine.requires_induction
        else None
    )
    return AccessCheck(
        contributor_id=contributor_id,
        machine_id=machine_id,
        at=moment,
        requires_induction=machine.requires_induction,
        allowed=problem is None,
        reason=problem,
    )


# --- review: denied scans and power commands ------------------------------------


@router.get("/denied-scans", response_model=Page[DeniedScanPublic])
def list_denied_scans(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    reader_id: OptionalId = None,
    machine_id: OptionalId = None,
    contributor_id: OptionalId = None,
    reason: DenyReason | None = None,
    since: Annotated[datetime | None, Query(description="At or after.")] = None,
) -> Page[DeniedScan]:
    """Scans that opened no session, newest first, with why (for the Review page)."""
    query = select(DeniedScan)
    if reader_id is not None:
        query = query.where(DeniedScan.reader_id == reader_id)
    if machine_id is not None:
        query = query.where(DeniedScan.machine_id == machine_id)
    if contributor_id is not None:
        query = query.where(DeniedScan.contributor_id == contributor_id)
    if reason is not None:
        query = query.where(DeniedScan.reason == reason)
    if since is not None:
        query = query.where(col(DeniedScan.at) >= aware(since))
    found = page(
        db,
        DeniedScan,
        query,
        (SortKey(col(DeniedScan.at), True), SortKey(col(DeniedScan.id), True)),
        limit,
        offset,
        after,
    )
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/power-commands", response_model=Page[PowerCommandPublic])
def list_power_commands(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    machine_id: OptionalId = None,
    status: Annotated[
        CommandStatus | None, Query(description="`failed` lists what needs review.")
    ] = None,
) -> Page[PowerCommand]:
    """Interlock commands, newest first; unconfirmed ones end as `failed`, for review."""
    query = select(PowerCommand)
    if machine_id is not None:
        query = query.where(PowerCommand.machine_id == machine_id)
    if status is not None:
        query = query.where(PowerCommand.status == status)
    order = (SortKey(col(PowerCommand.id), True),)
    found = page(db, PowerCommand, query, order, limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/machines/{machine_id}/power", response_model=PowerStatePublic, tags=["machines"])
def read_machine_power(db: SessionDep, _key: Reader, machine_id: RowPath) -> PowerStatePublic:
    """A machine's relay: its reported state, what LabLedger waits for, its newest command."""
    return machine_power(db, get_or_404(db, Machine, machine_id))


# --- the edge list --------------------------------------------------------------


@router.get("/access/edge", response_model=EdgeSnapshot)
def read_edge_list(
    db: SessionDep,
    _key: Device,
    response: Response,
    reader: Annotated[
        list[str] | None, Query(max_length=200, description="Readers (topic segment or name).")
    ] = None,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> EdgeSnapshot | Response:
    """The inductions a bridge caches for its readers; 304 when its version is current."""
    snapshot = edge_snapshot(db, reader or [], _now())
    etag = f'"{snapshot.version}"'
    if if_none_match is not None and if_none_match.strip() in (etag, snapshot.version):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return snapshot
