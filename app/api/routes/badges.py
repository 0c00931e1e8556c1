"""REST for badges (cards enrolled to contributors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import col, select

from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import SortKey, get_or_404, page
from app.fields import MAX_ID
from app.lab import service
from app.lab.models import Badge, BadgeCreate, BadgePublic, BadgeStatus, BadgeUpdate

router = APIRouter(prefix=f"{API_PREFIX}/badges", tags=["badges"])
BadgeId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("", response_model=Page[BadgePublic])
def list_badges(
    session: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    contributor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: BadgeStatus | None = None,
    card_id: Annotated[
        str | None, Query(max_length=100, description="Any form of a card id.")
    ] = None,
) -> Page[Badge]:
    """Badges, filtered by contributor, status or card."""
    query = select(Badge)
    if contributor_id is not None:
        query = query.where(Badge.contributor_id == contributor_id)
    if status is not None:
        query = query.where(Badge.status == status)
    if card_id:
        query = query.where(Badge.card_id == service.canonical_card_id(card_id))
    found = page(session, Badge, query, (SortKey(col(Badge.id)),), limit, offset, after)
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.post("", response_model=BadgePublic, status_code=201)
def enrol_badge(session: SessionDep, _key: Writer, data: BadgeCreate) -> Badge:
    """Enrol a card; the same card twice, or to two people, is a 409."""
    return service.enrol_badge(session, data)


@router.get("/{badge_id}", response_model=BadgePublic)
def read_badge(session: SessionDep, _key: Reader, badge_id: BadgeId) -> Badge:
    """One badge."""
    return get_or_404(session, Badge, badge_id)


@router.patch("/{badge_id}", response_model=BadgePublic)
def update_badge(session: SessionDep, _key: Writer, badge_id: BadgeId, data: BadgeUpdate) -> Badge:
    """Relabel, move, revoke or reinstate a badge."""
    return service.update_badge(session, get_or_404(session, Badge, badge_id), data)


@router.post("/{badge_id}/deactivate", response_model=BadgePublic)
def revoke_badge(session: SessionDep, _key: Writer, badge_id: BadgeId) -> Badge:
    """Revoke a badge."""
    return service.revoke_badge(session, get_or_404(session, Badge, badge_id))
