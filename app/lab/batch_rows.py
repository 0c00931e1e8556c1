"""The rows a set-based ingest batch holds in memory while it folds a machine's events.

`app.lab.state_batch` reads them once per batch and writes them back with Core
statements; `app.lab.scan_batch` applies badge scans to the same rows, so a
machine's states and scans are folded in arrival order in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class NeedsOrm(Exception):
    """This machine's events from here on need the ORM path."""


@dataclass(slots=True, eq=False)
class HeldRun:
    """A machine_run row held in memory while a batch is folded."""

    machine_id: int
    status: str
    started_at: datetime
    last_sample_at: datetime
    start_event_id: str
    id: int | None = None
    ended_at: datetime | None = None
    busy_since: datetime | None = None
    busy_s: float = 0.0
    end_reason: str | None = None
    provenance: str | None = None
    flagged: bool = False
    flag_reason: str | None = None
    job: str | None = None
    progress: float | None = None
    energy_wh: float | None = None
    material: float | None = None
    reported_busy_s: float | None = None
    operator_id: int | None = None
    product_id: int | None = None
    session_id: int | None = None
    attribution: str | None = None


@dataclass(slots=True, eq=False)
class HeldSession:
    """A lab_session row of a machine; a session opened in the batch has a negative id
    until it is inserted."""

    id: int
    contributor_id: int
    product_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    last_activity_at: datetime
    close_reason: str | None = None
    closed_by: str | None = None
    new: dict[str, Any] | None = None  # the columns of a session opened in the batch


@dataclass
class HeldMachine:
    """One machine's rows as read, and as folded so far."""

    id: int
    adapter: str
    status: dict[str, Any]
    run: HeldRun | None = None
    latest: HeldRun | None = None  # the run started last, for the offline-resume rule
    sessions: list[HeldSession] = field(default_factory=list)
    touched_runs: dict[int, HeldRun] = field(default_factory=dict)  # by id(): loaded and new
    ended_before: dict[int, datetime | None] = field(default_factory=dict)
    touched_sessions: dict[int, HeldSession] = field(default_factory=dict)  # by id()
    closed_before: dict[int, datetime | None] = field(default_factory=dict)

    def touch_run(self, run: HeldRun) -> HeldRun:
        """Note a run the batch changes (with its end as read, for the rollup slices)."""
        key = id(run)
        if key not in self.touched_runs:
            self.touched_runs[key] = run
            self.ended_before[key] = run.ended_at
        return run

    def touch_session(self, session: HeldSession) -> HeldSession:
        """Note a session the batch changes (with its close as read, for the rollup slices)."""
        key = id(session)
        if key not in self.touched_sessions:
            self.touched_sessions[key] = session
            self.closed_before[key] = session.closed_at
        return session

    def open_session(self) -> HeldSession | None:
        """The machine's open session, as folded so far."""
        return next((s for s in self.sessions if s.closed_at is None), None)
