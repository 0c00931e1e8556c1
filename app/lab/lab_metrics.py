"""Prometheus series of the lab, read from the database at scrape time.

Per machine: its state (one series per state, 1 for the current one), busy
seconds and energy of ended runs (counters, from the hourly rollups). Per lab:
open sessions and unattributed runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.lab.activity import LabSession, MachineRun, MachineStatus
from app.lab.models import Machine
from app.lab.rollups import RunHour

STATES = ("unknown", "idle", "running", "paused", "finished", "failed", "cancelled", "offline")


class LabCollector(Collector):
    """Collects the lab's series with a few grouped queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """The series, fresh from the database."""
        state = GaugeMetricFamily(
            "labledger_machine_state",
            "1 for the machine's current state",
            labels=["machine", "state"],
        )
        busy = CounterMetricFamily(
            "labledger_machine_busy_seconds", "Busy seconds of ended runs", labels=["machine"]
        )
        energy = CounterMetricFamily(
            "labledger_machine_energy_wh", "Energy of ended runs (Wh)", labels=["machine"]
        )
        with Session(self.engine) as db:
            machines = db.execute(
                select(col(Machine.id), col(Machine.name), col(MachineStatus.state))
                .outerjoin(MachineStatus, col(MachineStatus.machine_id) == Machine.id)
                .where(col(Machine.active))
            ).all()
            totals = {
                mid: (float(b), float(e))
                for mid, b, e in db.execute(
                    select(
                        col(RunHour.machine_id),
                        func.sum(RunHour.busy_s),
                        func.sum(RunHour.energy_wh),
                    ).group_by(col(RunHour.machine_id))
                ).all()
            }
            open_sessions = db.execute(
                select(func.count()).where(col(LabSession.closed_at).is_(None))
            ).scalar_one()
            unattributed = db.execute(
                select(func.count()).where(col(MachineRun.operator_id).is_(None))
            ).scalar_one()
        for mid, name, current in machines:
            for value in sorted({*STATES, current or "unknown"}):
                state.add_metric([name, value], 1.0 if value == (current or "unknown") else 0.0)
            b, e = totals.get(mid, (0.0, 0.0))
            busy.add_metric([name], b)
            energy.add_metric([name], e)
        yield state
        yield busy
        yield energy
        yield GaugeMetricFamily(
            "labledger_open_sessions", "Sessions open now", value=float(open_sessions)
        )
        yield GaugeMetricFamily(
            "labledger_unattributed_runs", "Runs with no operator", value=float(unattributed)
        )


def lab_metrics_text(engine: Engine) -> bytes:
    """The lab's series in Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LabCollector(engine))
    return generate_latest(registry)
