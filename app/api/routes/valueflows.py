"""The lab's economic events as Valueflows JSON-LD, for other open value network tools."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.valueflows.export import export_graph
from app.api.deps import API_PREFIX, Reader, SessionDep
from app.errors import InvalidInput

router = APIRouter(prefix=API_PREFIX, tags=["export"])

MEDIA_TYPE = "application/ld+json"


class JSONLDResponse(JSONResponse):
    """A JSON-LD document."""

    media_type = MEDIA_TYPE


def _utc(moment: datetime | None, name: str) -> datetime | None:
    """A bound in UTC; a time without offset is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{name} is out of range", {"field": name}) from None


@router.get(
    "/export/valueflows",
    response_class=JSONLDResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "A JSON-LD graph."}},
)
def export_valueflows(
    db: SessionDep,
    _key: Reader,
    since: Annotated[datetime | None, Query(description="Events at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Events before (ISO 8601).")] = None,
) -> JSONLDResponse:
    """Contributions, sales, claims and payouts as Valueflows 1.0 JSON-LD (public names only)."""
    start, end = _utc(since, "since"), _utc(until, "until")
    if start is not None and end is not None and start > end:
        raise InvalidInput(
            "since must not be after until", {"since": start.isoformat(), "until": end.isoformat()}
        )
    sync_derived_contributions(db)
    document: dict[str, Any] = export_graph(db, start, end)
    return JSONLDResponse(document)
