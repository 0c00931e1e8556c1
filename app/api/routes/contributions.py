"""REST for contributions: derived ones listed, hand-entered ones added, decisions on both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.accounting.contributions import service as contributions
from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.schemas import (
    ContributionEntry,
    ContributionPublic,
    Decision,
    SyncResult,
)
from app.accounting.contributions.tables import (
    Contribution,
    ContributionSource,
    ContributionStatus,
)
from app.accounting.engine.equation import ContributionKind
from app.api.deps import API_PREFIX, After, Limit, Offset, Reader, SessionDep, Writer
from app.api.pages import Page
from app.crud import get_or_404, page
from app.fields import MAX_ID

router = APIRouter(prefix=f"{API_PREFIX}/contributions", tags=["contributions"])
ContributionId = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("", response_model=Page[ContributionPublic])
def list_contributions(
    db: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
    contributor_id: OptionalId = None,
    product_id: OptionalId = None,
    kind: ContributionKind | None = None,
    status: ContributionStatus | None = None,
    source: ContributionSource | None = None,
) -> Page[ContributionPublic]:
    """Contributions, newest first, derived ones brought up to date first."""
    sync_derived_contributions(db)
    query = contributions.filtered(contributor_id, product_id, kind, status, source)
    found = page(db, Contribution, query, contributions.ORDER, limit, offset, after)
    rows, total = found.rows, found.total
    items = [contributions.to_public(row) for row in rows]
    return Page(items=items, next=found.next, total=total, limit=limit, offset=offset)


@router.post("", response_model=ContributionPublic, status_code=201)
def add_contribution(db: SessionDep, key: Writer, entry: ContributionEntry) -> ContributionPublic:
    """Enter a contribution by hand; it counts once approved."""
    return contributions.to_public(contributions.add_manual(db, entry, f"key:{key.name}", key.id))


@router.post("/sync", response_model=SyncResult)
def sync_contributions(
    db: SessionDep,
    _key: Writer,
    full: Annotated[
        bool,
        Query(description="Re-check every session and run, not only those changed (a repair)."),
    ] = False,
) -> SyncResult:
    """Derive contributions from sessions and runs changed since the last sync (all: `full`)."""
    return SyncResult(changed=sync_derived_contributions(db, full=full))


@router.get("/{contribution_id}", response_model=ContributionPublic)
def read_contribution(
    db: SessionDep, _key: Reader, contribution_id: ContributionId
) -> ContributionPublic:
    """One contribution."""
    return contributions.to_public(get_or_404(db, Contribution, contribution_id))


@router.post("/{contribution_id}/approve", response_model=ContributionPublic)
def approve_contribution(
    db: SessionDep, key: Writer, contribution_id: ContributionId
) -> ContributionPublic:
    """Approve a pending contribution so that it counts; not by the key that entered it."""
    row = contributions.decide(
        db, contribution_id, ContributionStatus.APPROVED, f"key:{key.name}", key_id=key.id
    )
    return contributions.to_public(row)


@router.post("/{contribution_id}/reject", response_model=ContributionPublic)
def reject_contribution(
    db: SessionDep, key: Writer, contribution_id: ContributionId, body: Decision
) -> ContributionPublic:
    """Reject a pending contribution, keeping the reason."""
    row = contributions.decide(
        db, contribution_id, ContributionStatus.REJECTED, f"key:{key.name}", body.reason
    )
    return contributions.to_public(row)


@router.post("/{contribution_id}/exclude", response_model=ContributionPublic)
def exclude_contribution(
    db: SessionDep, key: Writer, contribution_id: ContributionId, body: Decision
) -> ContributionPublic:
    """Leave a contribution out of every split (e.g. paid elsewhere); syncs keep it out."""
    row = contributions.decide(
        db, contribution_id, ContributionStatus.EXCLUDED, f"key:{key.name}", body.reason
    )
    return contributions.to_public(row)
