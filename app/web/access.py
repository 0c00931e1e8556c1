"""The Inductions page: who may use which machine, recent denied scans, unconfirmed relays."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from app.api.deps import SessionDep
from app.lab.access.models import CommandStatus, DeniedScan, PowerCommand
from app.lab.access.queries import induction_rows
from app.lab.models import Contributor, Machine
from app.web.auth import page_user
from app.web.routes import _login_redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/inductions", response_class=HTMLResponse)
def inductions_page(request: Request, db: SessionDep) -> Response:
    """Inductions with their status now, the last denied scans and failed power commands."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    names = {c.id: c.display_name for c in db.exec(select(Contributor)).all()}
    machines = {m.id: m.name for m in db.exec(select(Machine)).all()}
    denied = db.exec(select(DeniedScan).order_by(col(DeniedScan.at).desc()).limit(20)).all()
    failed = db.exec(
        select(PowerCommand)
        .where(PowerCommand.status == CommandStatus.FAILED)
        .order_by(col(PowerCommand.id).desc())
        .limit(20)
    ).all()
    return render(
        request,
        "inductions.html",
        {
            "title": "Inductions",
            "section": "Inductions",
            "user": user,
            "rows": induction_rows(db, datetime.now(UTC), limit=200),
            "denied": denied,
            "failed": failed,
            "names": names,
            "machines": machines,
        },
    )
