"""REST for contributors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import col, select

from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID
from app.lab import service
from app.lab.models import Contributor, ContributorCreate, ContributorPublic, ContributorUpdate

router = APIRouter(prefix=f"{API_PREFIX}/contributors", tags=["contributors"])
ContributorId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("", response_model=Page[ContributorPublic])
def list_contributors(
    session: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    active: bool | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Substring of the name.")] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Page[Contributor]:
    """Contributors, filtered by activity, name substring or email."""
    query = select(Contributor)
    if active is not None:
        query = query.where(Contributor.active == active)
    if name:
        query = query.where(col(Contributor.name).contains(name, autoescape=True))
    if email:
        query = query.where(Contributor.email == email)
    found = page(session, Contributor, query, (SortKey(col(Contributor.id)),), limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.post("", response_model=ContributorPublic, status_code=201)
def create_contributor(session: SessionDep, _key: Writer, data: ContributorCreate) -> Contributor:
    """Add a contributor."""
    return service.create_contributor(session, data)


@router.get("/{contributor_id}", response_model=ContributorPublic)
def read_contributor(
    session: SessionDep, _key: Reader, contributor_id: ContributorId
) -> Contributor:
    """One contributor."""
    return get_or_404(session, Contributor, contributor_id)


@router.patch("/{contributor_id}", response_model=ContributorPublic)
def update_contributor(
    session: SessionDep, _key: Writer, contributor_id: ContributorId, data: ContributorUpdate
) -> Contributor:
    """Change a contributor's details."""
    return service.update_contributor(
        session, get_or_404(session, Contributor, contributor_id), data
    )


@router.post("/{contributor_id}/deactivate", response_model=ContributorPublic)
def deactivate_contributor(
    session: SessionDep, _key: Writer, contributor_id: ContributorId
) -> Contributor:
    """Deactivate a contributor and revoke their badges; history stays."""
    return service.deactivate_contributor(session, get_or_404(session, Contributor, contributor_id))
