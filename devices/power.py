"""Run detection from power readings, for machines sensed through a smart plug.

Rule (docs/devices.md, "Lasers, CNCs and instruments on a Tasmota plug"): running
when power stays above `p_on_w` for `t_on_s`, stopped when it stays below `p_off_w`
for `t_off_s`.

- Sustained means every sample over the span: one sample that breaks the
  condition drops the pending transition. A span is measured between samples,
  so one sample alone never decides and a lone spike never starts a run.
- A confirmed start is backdated to the first sample above `p_on_w`, a
  confirmed stop to the first sample below `p_off_w`.
- Readings between the thresholds keep the current state (hysteresis).
- The energy of a run is the rise of the device's energy total (Wh) from the
  start sample to the stop sample; unknown when a total is missing or went
  backwards (a counter reset).
- Before the first decision the state is unknown: the first reading that is
  not above `p_on_w` settles it as idle, so the app learns an idle machine is
  there without waiting for a run.
- Samples not later than the previous one (redeliveries, reordering) are
  ignored.

Defaults from a machine's running threshold (`for_threshold`): `p_on_w` = the
threshold, `p_off_w` = half of it, `t_on_s` = 10 s (two readings at the 10 s
TelePeriod labs use), `t_off_s` = 30 s (a laser or CNC pausing between passes
for under half a minute is still one run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from devices.events import MachineState, Result, RunState

DEFAULT_OFF_RATIO = 0.5
DEFAULT_T_ON_S = 10.0
DEFAULT_T_OFF_S = 30.0


@dataclass(frozen=True, slots=True)
class PowerSample:
    """One reading: when, the power drawn, and the device's energy total if it keeps one."""

    at: datetime
    power_w: float
    energy_total_wh: float | None


@dataclass(frozen=True, slots=True)
class PowerTransition:
    """A decided change, dated to when it really happened; `energy_wh` is the ended run's."""

    state: RunState
    at: datetime
    power_w: float
    energy_wh: float | None = None

    def as_event(self, machine: str, event_id: str, fingerprint: str | None = None) -> MachineState:
        """The machine-state event this transition is reported as."""
        return MachineState(
            machine=machine,
            state=self.state,
            at=self.at,
            event_id=event_id,
            power_w=self.power_w,
            energy_wh=self.energy_wh,
            fingerprint=fingerprint,
        )


class PowerRunDetector:
    """Turns a series of power readings into running/idle transitions with hysteresis."""

    def __init__(self, p_on_w: float, p_off_w: float, t_on_s: float, t_off_s: float) -> None:
        if not 0 < p_off_w <= p_on_w:
            raise ValueError(f"need 0 < p_off_w <= p_on_w, got {p_off_w} and {p_on_w}")
        if not (t_on_s > 0 and t_off_s > 0):
            raise ValueError(f"t_on_s and t_off_s must be positive, got {t_on_s} and {t_off_s}")
        self.p_on_w = p_on_w
        self.p_off_w = p_off_w
        self.t_on_s = t_on_s
        self.t_off_s = t_off_s
        self._running: bool | None = None
        self._pending: PowerSample | None = None
        self._run_start: PowerSample | None = None
        self._last: PowerSample | None = None

    @classmethod
    def for_threshold(
        cls,
        running_threshold_w: float,
        t_on_s: float = DEFAULT_T_ON_S,
        t_off_s: float = DEFAULT_T_OFF_S,
    ) -> PowerRunDetector:
        """The documented defaults for a machine whose running threshold is known."""
        if not running_threshold_w > 0:
            raise ValueError(f"running threshold must be positive, got {running_threshold_w}")
        if t_on_s < 0 or t_off_s < 0:
            raise ValueError("confirmation times must not be negative")
        return cls(
            p_on_w=running_threshold_w,
            p_off_w=running_threshold_w * DEFAULT_OFF_RATIO,
            t_on_s=t_on_s,
            t_off_s=t_off_s,
        )

    @property
    def running(self) -> bool | None:
        """Whether a run is in progress; None until the first decision."""
        return self._running

    def observe(
        self, at: datetime, power_w: float, energy_total_wh: float | None = None
    ) -> PowerTransition | None:
        """Take one reading and return the transition it confirms, if any."""
        if self._last is not None and at <= self._last.at:
            return None
        sample = PowerSample(at, power_w, energy_total_wh)
        self._last = sample
        if self._running:
            return self._while_running(sample)
        return self._while_stopped(sample)

    def interrupt(self) -> PowerTransition | None:
        """The device went away: end any run at the last good reading and forget the state."""
        ended = None
        if self._running and self._run_start is not None and self._last is not None:
            ended = PowerTransition(
                RunState.OFFLINE,
                self._last.at,
                self._last.power_w,
                _energy_between(self._run_start, self._last),
            )
        self._running = None
        self._pending = None
        self._run_start = None
        return ended

    def _while_stopped(self, sample: PowerSample) -> PowerTransition | None:
        """Idle or not yet known: look for a sustained rise."""
        if sample.power_w <= self.p_on_w:
            self._pending = None
            if self._running is None:
                self._running = False
                return PowerTransition(RunState.IDLE, sample.at, sample.power_w)
            return None
        start = self._pending or sample
        self._pending = start
        if (sample.at - start.at).total_seconds() < self.t_on_s:
            return None
        self._running = True
        self._pending = None
        self._run_start = start
        return PowerTransition(RunState.RUNNING, start.at, start.power_w)

    def _while_running(self, sample: PowerSample) -> PowerTransition | None:
        """Running: look for a sustained fall."""
        if sample.power_w >= self.p_off_w:
            self._pending = None
            return None
        stop = self._pending or sample
        self._pending = stop
        if (sample.at - stop.at).total_seconds() < self.t_off_s:
            return None
        energy = _energy_between(self._run_start, stop) if self._run_start else None
        self._running = False
        self._pending = None
        self._run_start = None
        return PowerTransition(RunState.IDLE, stop.at, stop.power_w, energy)


def _energy_between(start: PowerSample, end: PowerSample) -> float | None:
    """Energy used between two readings from the device's running total, if it is usable."""
    if start.energy_total_wh is None or end.energy_total_wh is None:
        return None
    used = end.energy_total_wh - start.energy_total_wh
    return round(used, 6) if used >= 0 else None


def availability_events(
    detector: PowerRunDetector,
    machine: str,
    online: bool,
    at: datetime,
    ids: tuple[str, str | None],
) -> list[Result]:
    """A plug coming online (state unknown until readings) or going offline (ends any run)."""
    event_id, fingerprint = ids
    if online:
        return [MachineState(machine, RunState.UNKNOWN, at, event_id, fingerprint=fingerprint)]
    ended = detector.interrupt()
    if ended is None:
        return [MachineState(machine, RunState.OFFLINE, at, event_id, fingerprint=fingerprint)]
    return [ended.as_event(machine, event_id, fingerprint)]
