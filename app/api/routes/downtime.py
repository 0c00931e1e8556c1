"""REST for machines' maintenance and out-of-service windows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from sqlmodel import col, select

from app.api.deps import API_PREFIX, Reader, SessionDep, Writer
from app.crud import get_or_404
from app.errors import NotFound
from app.fields import MAX_ID
from app.lab.downtime import (
    DowntimeCreate,
    DowntimePublic,
    DowntimeUpdate,
    MachineDowntime,
    add_downtime,
    change_downtime,
)
from app.lab.models import Machine

router = APIRouter(prefix=f"{API_PREFIX}/machines", tags=["machines"])
MachinePath = Annotated[int, Path(ge=1, le=MAX_ID, description="Id of the machine.")]
WindowPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Id of the downtime window.")]
NEW_WINDOW = {
    "repair": {
        "summary": "Out of service until further notice",
        "value": {"starts_at": "2026-05-04T08:00:00Z", "reason": "Y axis belt snapped"},
    },
    "maintenance": {
        "summary": "A planned maintenance window",
        "value": {
            "starts_at": "2026-05-11T08:00:00Z",
            "ends_at": "2026-05-11T12:00:00Z",
            "reason": "Nozzle and hotend service",
        },
    },
}
END_WINDOW = {"end": {"summary": "Back in service", "value": {"ends_at": "2026-05-05T16:30:00Z"}}}


def _window(db: SessionDep, machine_id: int, downtime_id: int) -> MachineDowntime:
    row = db.get(MachineDowntime, downtime_id)
    if row is None or row.machine_id != machine_id:
        raise NotFound(f"machine {machine_id} has no downtime window {downtime_id}")
    return row


@router.get("/{machine_id}/downtime", response_model=list[DowntimePublic])
def list_downtime(db: SessionDep, _key: Reader, machine_id: MachinePath) -> list[MachineDowntime]:
    """The machine's windows, newest first."""
    get_or_404(db, Machine, machine_id)
    query = select(MachineDowntime).where(MachineDowntime.machine_id == machine_id)
    return list(db.exec(query.order_by(col(MachineDowntime.starts_at).desc())).all())


@router.post("/{machine_id}/downtime", response_model=DowntimePublic, status_code=201)
def create_downtime(
    db: SessionDep,
    _key: Writer,
    machine_id: MachinePath,
    body: Annotated[DowntimeCreate, Body(openapi_examples=NEW_WINDOW)],
) -> MachineDowntime:
    """Put a machine under maintenance or out of service for a window."""
    get_or_404(db, Machine, machine_id)
    return add_downtime(db, machine_id, body)


@router.get("/{machine_id}/downtime/{downtime_id}", response_model=DowntimePublic)
def read_downtime(
    db: SessionDep, _key: Reader, machine_id: MachinePath, downtime_id: WindowPath
) -> MachineDowntime:
    """One window."""
    return _window(db, machine_id, downtime_id)


@router.patch("/{machine_id}/downtime/{downtime_id}", response_model=DowntimePublic)
def update_downtime(
    db: SessionDep,
    _key: Writer,
    machine_id: MachinePath,
    downtime_id: WindowPath,
    body: Annotated[DowntimeUpdate, Body(openapi_examples=END_WINDOW)],
) -> MachineDowntime:
    """Change a window, typically to set its end."""
    return change_downtime(db, _window(db, machine_id, downtime_id), body)


@router.delete("/{machine_id}/downtime/{downtime_id}", status_code=204)
def delete_downtime(
    db: SessionDep, _key: Writer, machine_id: MachinePath, downtime_id: WindowPath
) -> None:
    """Remove a window entered by mistake."""
    db.delete(_window(db, machine_id, downtime_id))
    db.commit()
