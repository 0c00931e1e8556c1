"""The demo from start to end: an empty database in, a lab with a day's history out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from app.accounting.sales.tables import SplitShare
from app.config import Settings
from app.demo.cast import Cast, make_cast
from app.demo.day import demo_day
from app.demo.replay import demo_sales, post_sales, replay_devices
from app.lab.activity import LabSession, MachineRun, UnknownScan


@dataclass
class DemoReport:
    """What the demo made."""

    cast: Cast
    day: datetime
    messages: int
    sessions: int
    runs: int
    unknown_scans: int
    sales: list[str]
    shares: int


def _count(db: Session, model: type) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def run_demo(engine: Engine, settings: Settings, now: datetime | None = None) -> DemoReport:
    """Fill an empty database with the demo lab and replay yesterday (UTC) through it."""
    now = now or datetime.now(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=1)
    with Session(engine) as db:
        cast = make_cast(db, effective_from=day - timedelta(days=30))
    messages = demo_day(day)
    replay_devices(engine, settings, messages)
    outcomes = post_sales(settings, demo_sales(day))
    with Session(engine) as db:
        return DemoReport(
            cast=cast,
            day=day,
            messages=len(messages),
            sessions=_count(db, LabSession),
            runs=_count(db, MachineRun),
            unknown_scans=_count(db, UnknownScan),
            sales=outcomes,
            shares=_count(db, SplitShare),
        )
