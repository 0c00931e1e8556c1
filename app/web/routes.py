"""The dashboard pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.ingest.status import BrokerStatus

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The landing page: service state and where to go next."""
    broker: BrokerStatus = request.app.state.broker_status
    return templates.TemplateResponse(request, "home.html", {"broker": broker})
