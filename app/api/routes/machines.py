"""REST for machines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlmodel import col, select

from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.api.serial_checks import check_serial_address
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID
from app.lab import service
from app.lab.adapters import machine_problem
from app.lab.models import (
    Adapter,
    Machine,
    MachineCreate,
    MachineKind,
    MachinePublic,
    MachineUpdate,
)
from devices.registry import is_stream_adapter

router = APIRouter(prefix=f"{API_PREFIX}/machines", tags=["machines"])
MachineId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _public(request: Request, row: Machine) -> MachinePublic:
    """A machine with why it cannot be listened to, if it cannot (only active ones are)."""
    public = MachinePublic.model_validate(row, from_attributes=True)
    if row.active and row.id is not None:
        problem = machine_problem(service.machine_settings(row))
        public.routing_problem = (
            problem.message if problem else request.app.state.ingest.problem("machine", row.id)
        )
    return public


@router.get("", response_model=Page[MachinePublic])
def list_machines(
    request: Request,
    session: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    kind: MachineKind | None = None,
    adapter: Adapter | None = None,
    provider_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    active: bool | None = None,
) -> Page[MachinePublic]:
    """Machines, filtered by kind, adapter, provider or activity."""
    query = select(Machine)
    if kind is not None:
        query = query.where(Machine.kind == kind)
    if adapter is not None:
        query = query.where(Machine.adapter == adapter)
    if provider_id is not None:
        query = query.where(Machine.provider_id == provider_id)
    if active is not None:
        query = query.where(Machine.active == active)
    found = page(session, Machine, query, (SortKey(col(Machine.id)),), limit, offset, after)
    return Page(
        items=[_public(request, row) for row in found.rows],
        next=found.next,
        total=found.total,
        limit=limit,
        offset=offset,
    )


@router.post("", response_model=MachinePublic, status_code=201)
def create_machine(
    request: Request, session: SessionDep, _key: Writer, data: MachineCreate
) -> MachinePublic:
    """Add a machine; settings it could not be tracked with are refused (422 naming the field)."""
    check_serial_address(request, is_stream_adapter(data.adapter), data.address)
    row = service.create_machine(session, data)
    request.app.state.ingest.refresh()
    return _public(request, row)


@router.get("/{machine_id}", response_model=MachinePublic)
def read_machine(
    request: Request, session: SessionDep, _key: Reader, machine_id: MachineId
) -> MachinePublic:
    """One machine, with `routing_problem` when it cannot be listened to."""
    return _public(request, get_or_404(session, Machine, machine_id))


@router.patch("/{machine_id}", response_model=MachinePublic)
def update_machine(
    request: Request, session: SessionDep, _key: Writer, machine_id: MachineId, data: MachineUpdate
) -> MachinePublic:
    """Change a machine's details; settings it could not be tracked with are refused."""
    current = get_or_404(session, Machine, machine_id)
    adapter = data.adapter or current.adapter
    check_serial_address(request, is_stream_adapter(adapter), data.address or current.address)
    row = service.update_machine(session, current, data)
    request.app.state.ingest.refresh()
    return _public(request, row)


@router.post("/{machine_id}/deactivate", response_model=MachinePublic)
def deactivate_machine(
    request: Request, session: SessionDep, _key: Writer, machine_id: MachineId
) -> MachinePublic:
    """Deactivate a machine; its history stays."""
    row = service.deactivate_machine(session, get_or_404(session, Machine, machine_id))
    request.app.state.ingest.refresh()
    return _public(request, row)
