"""Run detection from power readings: hysteresis, backdating, energy per run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import RunState
from devices.power import PowerRunDetector, PowerTransition

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment `seconds` after the start of the test."""
    return T0 + timedelta(seconds=seconds)


def feed(
    detector: PowerRunDetector, readings: list[tuple[float, float, float | None]]
) -> list[PowerTransition]:
    """Feed (seconds, watts, total Wh) readings and collect the transitions."""
    out = []
    for seconds, watts, total in readings:
        transition = detector.observe(at(seconds), watts, total)
        if transition is not None:
            out.append(transition)
    return out


def laser() -> PowerRunDetector:
    """A detector for a laser cutter that draws over 100 W when cutting."""
    return PowerRunDetector.for_threshold(100.0)


def test_defaults_derive_from_the_running_threshold():
    detector = laser()
    assert (detector.p_on_w, detector.p_off_w, detector.t_on_s, detector.t_off_s) == (
        100.0,
        50.0,
        10.0,
        30.0,
    )


@pytest.mark.parametrize(
    "args",
    [(100.0, 150.0, 10.0, 30.0), (100.0, 0.0, 10.0, 30.0), (100.0, 50.0, 0.0, 30.0)],
)
def test_inconsistent_settings_are_rejected(args):
    with pytest.raises(ValueError):
        PowerRunDetector(*args)


def test_non_positive_threshold_is_rejected():
    with pytest.raises(ValueError):
        PowerRunDetector.for_threshold(0.0)


def test_first_low_reading_settles_idle():
    (first,) = feed(laser(), [(0, 3.0, None), (10, 3.0, None)])
    assert (first.state, first.at) == (RunState.IDLE, at(0))


def test_single_spike_does_not_start_a_run():
    readings = [(0, 3.0, 10.0), (10, 450.0, 10.5), (20, 3.0, 10.6), (30, 3.0, 10.6)]
    assert [t.state for t in feed(laser(), readings)] == [RunState.IDLE]


def test_sustained_draw_starts_a_run_backdated_to_its_first_reading():
    readings = [(0, 3.0, 10.0), (10, 450.0, 10.5), (20, 460.0, 11.8)]
    _, started = feed(laser(), readings)
    assert (started.state, started.at, started.power_w) == (RunState.RUNNING, at(10), 450.0)
    assert started.energy_wh is None


def test_readings_between_the_thresholds_keep_the_state():
    detector = laser()
    feed(detector, [(0, 300.0, None), (10, 300.0, None)])
    assert detector.running is True
    assert feed(detector, [(20, 70.0, None), (30, 70.0, None), (90, 70.0, None)]) == []
    assert detector.running is True


def test_sustained_low_draw_ends_the_run_backdated_with_its_energy():
    detector = laser()
    readings = [
        (0, 400.0, 1000.0),
        (10, 400.0, 1001.1),
        (20, 400.0, 1002.2),
        (30, 10.0, 1003.0),
        (40, 10.0, 1003.1),
        (50, 10.0, 1003.2),
        (60, 10.0, 1003.3),
    ]
    started, stopped = feed(detector, readings)
    assert started.at == at(0)
    assert (stopped.state, stopped.at, stopped.power_w) == (RunState.IDLE, at(30), 10.0)
    assert stopped.energy_wh == pytest.approx(3.0)


def test_short_dip_during_a_run_does_not_end_it():
    readings = [(0, 400.0, None), (10, 400.0, None), (20, 5.0, None), (40, 5.0, None)]
    readings += [(45, 400.0, None), (60, 5.0, None), (80, 5.0, None)]
    assert [t.state for t in feed(laser(), readings)] == [RunState.RUNNING]


def test_energy_is_unknown_without_totals_or_after_a_counter_reset():
    detector = laser()
    no_total = [(0, 400.0, None), (10, 400.0, None), (20, 5.0, 3.0), (50, 5.0, 3.0)]
    assert feed(detector, no_total)[-1].energy_wh is None
    reset = [(60, 400.0, 900.0), (70, 400.0, 901.0), (80, 5.0, 0.5), (110, 5.0, 0.5)]
    assert feed(detector, reset)[-1].energy_wh is None


def test_stale_or_repeated_readings_are_ignored():
    detector = laser()
    feed(detector, [(0, 3.0, None), (10, 400.0, None)])
    assert detector.observe(at(10), 400.0) is None
    assert detector.observe(at(5), 400.0) is None
    assert detector.running is False


def test_interrupt_ends_a_run_at_the_last_reading():
    detector = laser()
    feed(detector, [(0, 400.0, 50.0), (10, 400.0, 51.0), (20, 400.0, 52.5)])
    ended = detector.interrupt()
    assert ended is not None
    assert (ended.state, ended.at, ended.energy_wh) == (RunState.OFFLINE, at(20), 2.5)
    assert detector.running is None
    assert detector.interrupt() is None


@given(st.lists(st.floats(0, 2000), max_size=40))
def test_transitions_alternate_and_starts_are_real_high_readings(watts):
    detector = laser()
    readings = [(10.0 * i, w, float(i)) for i, w in enumerate(watts)]
    transitions = feed(detector, readings)
    by_time = {at(s): w for s, w, _ in readings}
    states = [t.state for t in transitions]
    assert all(a != b for a, b in itertools.pairwise(states))
    for transition in transitions:
        if transition.state is RunState.RUNNING:
            assert by_time[transition.at] > detector.p_on_w
        else:
            assert transition.energy_wh is None or transition.energy_wh >= 0
    assert [t.at for t in transitions] == sorted(t.at for t in transitions)
