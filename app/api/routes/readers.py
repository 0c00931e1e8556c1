"""REST for badge readers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlmodel import Session, col, select

from app.accounting.products.tables import Product
from app.api.deps import API_PREFIX, After, Limit, Offset, SessionDep, Writer
from app.api.deps import Reader as ReaderKey
from app.api.pages import Page
from app.api.serial_checks import check_serial_address
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID
from app.lab import service
from app.lab.adapters import reader_problem
from app.lab.models import Reader, ReaderCreate, ReaderProtocol, ReaderPublic, ReaderUpdate
from devices.registry import is_stream_reader

router = APIRouter(prefix=f"{API_PREFIX}/readers", tags=["readers"])
ReaderId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _public(request: Request, row: Reader) -> ReaderPublic:
    """A reader with why it cannot be listened to, if it cannot (only active ones are)."""
    public = ReaderPublic.model_validate(row, from_attributes=True)
    if row.active and row.id is not None:
        problem = reader_problem(row.protocol, row.address, row.name)
        public.routing_problem = (
            problem.message if problem else request.app.state.ingest.problem("reader", row.id)
        )
    return public


def _product_exists(session: Session, product_id: int | None) -> None:
    """A reader can only be bound to a product that exists."""
    if product_id is not None:
        get_or_404(session, Product, product_id)


@router.get("", response_model=Page[ReaderPublic])
def list_readers(
    request: Request,
    session: SessionDep,
    _key: ReaderKey,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    machine_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    protocol: ReaderProtocol | None = None,
    active: bool | None = None,
) -> Page[ReaderPublic]:
    """Readers, filtered by machine, protocol or activity."""
    query = select(Reader)
    if machine_id is not None:
        query = query.where(Reader.machine_id == machine_id)
    if protocol is not None:
        query = query.where(Reader.protocol == protocol)
    if active is not None:
        query = query.where(Reader.active == active)
    found = page(session, Reader, query, (SortKey(col(Reader.id)),), limit, offset, after)
    return Page(
        items=[_public(request, row) for row in found.rows],
        next=found.next,
        total=found.total,
        limit=limit,
        offset=offset,
    )


@router.post("", response_model=ReaderPublic, status_code=201)
def create_reader(
    request: Request, session: SessionDep, _key: Writer, data: ReaderCreate
) -> ReaderPublic:
    """Add a reader; settings it could not be listened to with are refused (422)."""
    check_serial_address(request, is_stream_reader(data.protocol), data.address or data.name)
    _product_exists(session, data.product_id)
    row = service.create_reader(session, data)
    request.app.state.ingest.refresh()
    return _public(request, row)


@router.get("/{reader_id}", response_model=ReaderPublic)
def read_reader(
    request: Request, session: SessionDep, _key: ReaderKey, reader_id: ReaderId
) -> ReaderPublic:
    """One reader, with `routing_problem` when it cannot be listened to."""
    return _public(request, get_or_404(session, Reader, reader_id))


@router.patch("/{reader_id}", response_model=ReaderPublic)
def update_reader(
    request: Request, session: SessionDep, _key: Writer, reader_id: ReaderId, data: ReaderUpdate
) -> ReaderPublic:
    """Rebind or rename a reader; settings it could not be listened to with are refused."""
    current = get_or_404(session, Reader, reader_id)
    address = data.address if "address" in data.model_fields_set else current.address
    protocol = data.protocol or current.protocol
    check_serial_address(request, is_stream_reader(protocol), address or data.name or current.name)
    _product_exists(session, data.product_id)
    row = service.update_reader(session, current, data)
    request.app.state.ingest.refresh()
    return _public(request, row)


@router.post("/{reader_id}/deactivate", response_model=ReaderPublic)
def deactivate_reader(
    request: Request, session: SessionDep, _key: Writer, reader_id: ReaderId
) -> ReaderPublic:
    """Deactivate a reader."""
    row = service.deactivate_reader(session, get_or_404(session, Reader, reader_id))
    request.app.state.ingest.refresh()
    return _public(request, row)
