"""Machine runs, folded from a machine's state events in (event time, arrival) order.

Each machine's events are applied one at a time under a lock on its status row,
so replicas serialise on the database. Events with the same time (the lines of
one serial read) keep the order they arrived in: the recorder inserts them in
that order under the machine's lock, so the row id is a per-source sequence, and
folding never orders by the hashed event id. An event timed earlier than events
already applied (out of order) makes the machine's recent runs be refolded from
the event log, so the result does not depend on arrival order across times. Rows of runs
that survive a refold are reused, keeping their ids and manual assignments.

The ingest worker folds the simple case (in-order state samples) of a whole batch in
memory by these same rules (`app.lab.state_batch`); this module is the reference, and
applies everything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, true
from sqlmodel import Session, col, or_, select

from app.lab.activity import (
    DeviceEvent,
    EndReason,
    LabSession,
    MachineRun,
    MachineStatus,
    Provenance,
    RunStatus,
)
from app.lab.models import Machine

POWER_ADAPTERS = frozenset({"tasmota", "shelly"})
TERMINAL = {
    "finished": EndReason.FINISHED,
    "failed": EndReason.FAILED,
    "cancelled": EndReason.CANCELLED,
    "interrupted": EndReason.INTERRUPTED,
}
# Ends the device did not report as such: the run is kept, flagged for review.
UNREPORTED_ENDS = {
    EndReason.INTERRUPTED: "the job stopped without an end report (interrupted), not a cancel",
    EndReason.ABANDONED: "the machine went idle without an end report",
}


@dataclass(frozen=True)
class StateSample:
    """The fields of one recorded machine-state event that runs are folded from."""

    event_id: str
    at: datetime
    state: str
    job: str | None = None
    progress: float | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    material: float | None = None
    reported_busy_s: float | None = None

    @classmethod
    def from_row(cls, row: DeviceEvent) -> StateSample:
        """Rebuild a sample from its recorded event."""
        body = json.loads(row.body)
        return cls(
            event_id=row.event_id,
            at=row.at,
            state=row.state or "unknown",
            **{
                k: body.get(k)
                for k in ("job", "progress", "power_w", "energy_wh", "material", "reported_busy_s")
            },
        )


def lock_status(db: Session, machine_id: int) -> MachineStatus:
    """The machine's status row, locked for this transaction (made on first use).

    The lock lasts until the transaction ends, so a second call in the same
    transaction returns the row already held instead of asking again.
    """
    held: tuple[object, dict[int, MachineStatus]] | None = db.info.get(_LOCKED)
    transaction = db.get_transaction()
    if held is not None and transaction is not None and held[0] is transaction:
        status = held[1].get(machine_id)
        if status is not None and status in db:
            return status
    query = select(MachineStatus).where(MachineStatus.machine_id == machine_id).with_for_update()
    status = db.exec(query).first()
    if status is None:
        status = MachineStatus(machine_id=machine_id)
        db.add(status)
        db.flush()
    transaction = db.get_transaction()
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        db.info[_LOCKED] = held
    held[1][machine_id] = status
    return status


_LOCKED = "labledger.locked_status"


def _open_session_at(db: Session, machine_id: int, at: datetime) -> LabSession | None:
    query = select(LabSession).where(
        LabSession.machine_id == machine_id,
        col(LabSession.opened_at) <= at,
        or_(col(LabSession.closed_at).is_(None), col(LabSession.closed_at) > at),
    )
    return db.exec(query.order_by(col(LabSession.opened_at).desc())).first()


def _session_opened_within(
    db: Session, machine_id: int, at: datetime, grace_s: float
) -> LabSession | None:
    query = select(LabSession).where(
        LabSession.machine_id == machine_id,
        col(LabSession.opened_at) > at,
        col(LabSession.opened_at) <= at + timedelta(seconds=grace_s),
    )
    return db.exec(query.order_by(col(LabSession.opened_at))).first()


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


class RunFolder:
    """Applies state samples of one machine to its runs and status."""

    def __init__(
        self, db: Session, machine: Machine, status: MachineStatus, grace_s: float
    ) -> None:
        self.db = db
        self.grace_s = grace_s
        self.machine = machine
        self.status = status
        self.reuse: dict[str, MachineRun] = {}

    def _not_being_rebuilt(self) -> ColumnElement[bool]:
        """Runs waiting to be reused by a refold are not history yet."""
        waiting = [run.id for run in self.reuse.values()]
        return col(MachineRun.id).not_in(waiting) if waiting else true()

    def apply(self, sample: StateSample) -> None:
        """Fold one sample, in order."""
        run = self.db.get(MachineRun, self.status.run_id) if self.status.run_id else None
        state = sample.state
        if state == "running":
            run = self._resume_or_open(run, sample)
        elif state == "paused":
            run = self._pause(run, sample)
        elif state in TERMINAL and run is not None:
            self._end(run, sample, TERMINAL[state])
            run = None
        elif state in TERMINAL and sample.reported_busy_s is not None:
            self._late_busy_report(sample)
        elif state == "idle" and run is not None:
            reason = (
                EndReason.FINISHED
                if self.machine.adapter in POWER_ADAPTERS
                else EndReason.ABANDONED
            )
            self._end(run, sample, reason)
            run = None
        elif state == "offline" and run is not None:
            self._end_offline(run, sample)
            run = None
        if run is not None:
            run.last_sample_at = max(run.last_sample_at, sample.at)
            if sample.progress is not None:
                run.progress = sample.progress
            if sample.job:
                run.job = sample.job[:500]
        self._update_status(run, sample)

    def _update_status(self, run: MachineRun | None, sample: StateSample) -> None:
        status = self.status
        if status.state != sample.state:
            status.state = sample.state
            status.since = sample.at
        status.last_event_at = sample.at
        status.last_event_id = sample.event_id
        status.run_id = run.id if run is not None else None
        status.progress = run.progress if run is not None else None
        status.job = run.job if run is not None else None
        if sample.power_w is not None:
            status.power_w = sample.power_w

    def _resume_or_open(self, run: MachineRun | None, sample: StateSample) -> MachineRun:
        if run is not None:
            if run.status == RunStatus.PAUSED:
                run.status = RunStatus.RUNNING
                run.busy_since = sample.at
            return run
        back = self._offline_run_to_resume(sample)
        if back is not None:
            back.status = RunStatus.RUNNING
            back.busy_since = sample.at
            back.ended_at = None
            back.end_reason = None
            back.provenance = None
            back.flag_reason = "device was offline during this run"
            return back
        return self._open(sample, RunStatus.RUNNING)

    def _offline_run_to_resume(self, sample: StateSample) -> MachineRun | None:
        """A run closed by an outage that the machine comes back still running."""
        last = self.db.exec(
            select(MachineRun)
            .where(
                MachineRun.machine_id == self.machine.id,
                col(MachineRun.started_at) <= sample.at,
                self._not_being_rebuilt(),
            )
            .order_by(col(MachineRun.started_at).desc())
        ).first()
        if last is None or last.end_reason != EndReason.OFFLINE or last.ended_at is None:
            return None
        if sample.at - last.ended_at > timedelta(seconds=self.machine.idle_timeout_s):
            return None
        if sample.job and last.job and sample.job[:500] != last.job:
            return None
        return last

    def _pause(self, run: MachineRun | None, sample: StateSample) -> MachineRun:
        if run is None:
            run = self._open(sample, RunStatus.PAUSED)
            run.flagged = True
            run.flag_reason = "first seen paused: its start was not observed"
            return run
        if run.status == RunStatus.RUNNING and run.busy_since is not None:
            run.busy_s += _seconds(sample.at, run.busy_since)
            run.busy_since = None
            run.status = RunStatus.PAUSED
        return run

    def _open(self, sample: StateSample, status: RunStatus) -> MachineRun:
        assert self.machine.id is not None
        run = self.reuse.pop(sample.event_id, None)
        if run is None:
            run = MachineRun(
                machine_id=self.machine.id,
                status=status,
                started_at=sample.at,
                start_event_id=sample.event_id,
                last_sample_at=sample.at,
            )
        else:
            self._reset(run, sample, status)
        run.busy_since = sample.at if status == RunStatus.RUNNING else None
        run.job = sample.job[:500] if sample.job else None
        if run.attribution != "manual":
            self._attribute(run, sample.at)
        self.db.add(run)
        self.db.flush()
        return run

    @staticmethod
    def _reset(run: MachineRun, sample: StateSample, status: RunStatus) -> None:
        run.status = status
        run.started_at = sample.at
        run.ended_at = None
        run.busy_s = 0.0
        run.end_reason = run.provenance = run.flag_reason = None
        run.flagged = False
        run.progress = run.energy_wh = run.material = run.reported_busy_s = None
        run.last_sample_at = sample.at

    def _attribute(self, run: MachineRun, at: datetime) -> None:
        assert self.machine.id is not None
        session = _open_session_at(self.db, self.machine.id, at)
        attribution = "session"
        if session is None:
            session = _session_opened_within(self.db, self.machine.id, at, self.grace_s)
            attribution = "grace"
        run.operator_id = session.contributor_id if session else None
        run.product_id = session.product_id if session else None
        run.session_id = session.id if session else None
        run.attribution = attribution if session else None

    def _drop_grace_after_end(self, run: MachineRun) -> None:
        """A grace claim by a badge-in after the run ended does not stand (refolds end late)."""
        if run.attribution != "grace" or run.session_id is None or run.ended_at is None:
            return
        session = self.db.get(LabSession, run.session_id)
        if session is not None and session.opened_at >= run.ended_at:
            run.operator_id = run.product_id = run.session_id = run.attribution = None

    def _end(self, run: MachineRun, sample: StateSample, reason: EndReason) -> None:
        self._finish(run, sample, reason)
        if reason in UNREPORTED_ENDS:
            run.flagged = True
            run.flag_reason = UNREPORTED_ENDS[reason]
        self._drop_grace_after_end(run)

    def _finish(self, run: MachineRun, sample: StateSample, reason: EndReason) -> None:
        if run.status == RunStatus.RUNNING and run.busy_since is not None:
            run.busy_s += _seconds(sample.at, run.busy_since)
        run.busy_since = None
        run.status = RunStatus.ENDED
        run.ended_at = sample.at
        run.last_sample_at = max(run.last_sample_at, sample.at)
        run.end_reason = reason
        run.provenance = Provenance.MEASURED
        if sample.reported_busy_s is not None:
            run.reported_busy_s = sample.reported_busy_s
            run.busy_s = sample.reported_busy_s
            run.provenance = Provenance.DEVICE_REPORTED
        if sample.energy_wh is not None:
            run.energy_wh = sample.energy_wh
        if sample.material is not None:
            run.material = sample.material
        if sample.progress is not None:
            run.progress = sample.progress

    def _end_offline(self, run: MachineRun, sample: StateSample) -> None:
        """Close at the last good sample: the outage's length is not machine time.

        An offline event that carries the device's last reading (a plug reports its
        last power and the run's energy up to it, dated to that reading) is that
        last good sample: the run keeps the time and energy measured up to it.
        """
        if sample.power_w is not None or sample.energy_wh is not None:
            run.last_sample_at = max(run.last_sample_at, sample.at)
            if sample.energy_wh is not None:
                run.energy_wh = sample.energy_wh
            if sample.material is not None:
                run.material = sample.material
        if run.status == RunStatus.RUNNING and run.busy_since is not None:
            run.busy_s += _seconds(run.last_sample_at, run.busy_since)
        run.busy_since = None
        run.status = RunStatus.ENDED
        run.ended_at = run.last_sample_at
        run.end_reason = EndReason.OFFLINE
        run.provenance = Provenance.CLOSED_AT_LAST_SAMPLE
        run.flagged = True
        run.flag_reason = "device went offline during the run"
        self._drop_grace_after_end(run)

    def _late_busy_report(self, sample: StateSample) -> None:
        """A device's own print time that follows the end (Marlin's M31) corrects the last run."""
        last = self.db.exec(
            select(MachineRun)
            .where(
                MachineRun.machine_id == self.machine.id,
                MachineRun.status == RunStatus.ENDED,
                self._not_being_rebuilt(),
            )
            .order_by(col(MachineRun.ended_at).desc())
        ).first()
        if last is not None and last.reported_busy_s is None and last.end_reason == sample.state:
            last.reported_busy_s = sample.reported_busy_s
            last.busy_s = float(sample.reported_busy_s or 0.0)
            last.provenance = Provenance.DEVICE_REPORTED


def apply_machine_sample(
    db: Session, machine: Machine, sample: StateSample, grace_s: float
) -> None:
    """Apply one recorded sample: in order directly, out of order by refolding."""
    assert machine.id is not None
    status = lock_status(db, machine.id)
    # Same time as the last event applied: this one arrived after it, so it is in order.
    if status.last_event_at is not None and sample.at < status.last_event_at:
        refold(db, machine, status, sample.at, grace_s)
        return
    RunFolder(db, machine, status, grace_s).apply(sample)


def refold(
    db: Session, machine: Machine, status: MachineStatus, since: datetime, grace_s: float
) -> None:
    """Rebuild the machine's runs from `since` (widened to the run it falls in) from the log."""
    assert machine.id is not None
    touched = db.exec(
        select(MachineRun).where(
            MachineRun.machine_id == machine.id,
            or_(col(MachineRun.ended_at).is_(None), col(MachineRun.ended_at) >= since),
        )
    ).all()
    start = min([since, *(run.started_at for run in touched)])
    old_runs = db.exec(
        select(MachineRun).where(
            MachineRun.machine_id == machine.id, col(MachineRun.started_at) >= start
        )
    ).all()
    before = db.exec(
        select(DeviceEvent)
        .where(DeviceEvent.machine_id == machine.id, col(DeviceEvent.at) < start)
        .order_by(col(DeviceEvent.at).desc(), col(DeviceEvent.id).desc())
    ).first()
    status.state = before.state or "unknown" if before else "unknown"
    status.since = before.at if before else None
    status.last_event_at = before.at if before else None
    status.last_event_id = before.event_id if before else None
    status.run_id = None
    folder = RunFolder(db, machine, status, grace_s)
    folder.reuse = {run.start_event_id: run for run in old_runs}
    events = db.exec(
        select(DeviceEvent)
        .where(
            DeviceEvent.machine_id == machine.id,
            col(DeviceEvent.at) >= start,
            DeviceEvent.kind == "machine",
        )
        .order_by(col(DeviceEvent.at), col(DeviceEvent.id))
    ).all()
    for row in events:
        folder.apply(StateSample.from_row(row))
    for leftover in folder.reuse.values():
        db.delete(leftover)
    db.flush()


def attribute_grace(db: Session, machine_id: int, session: LabSession, grace_s: float) -> None:
    """Give a badge-in the unattributed runs started shortly before it and still going.

    The grace window is for "start the print, then badge": a run that had ended
    before the badge-in was someone else's (or nobody's), and stays for review.
    """
    window_start = session.opened_at - timedelta(seconds=grace_s)
    runs = db.exec(
        select(MachineRun).where(
            MachineRun.machine_id == machine_id,
            col(MachineRun.operator_id).is_(None),
            col(MachineRun.started_at) >= window_start,
            col(MachineRun.started_at) <= session.opened_at,
            or_(col(MachineRun.ended_at).is_(None), col(MachineRun.ended_at) > session.opened_at),
        )
    ).all()
    for run in runs:
        run.operator_id = session.contributor_id
        run.product_id = session.product_id
        run.session_id = session.id
        run.attribution = "grace"


def run_is_open(db: Session, machine_id: int) -> bool:
    """Whether the machine has a run in progress."""
    status = db.get(MachineStatus, machine_id)
    return status is not None and status.run_id is not None
