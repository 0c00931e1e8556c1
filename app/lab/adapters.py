"""Whether a machine's or reader's settings can be listened to, checked before they are stored.

The same codec and topic rules the ingest router applies (`devices.registry`)
are run here when a machine or reader is created or changed, so a setting the
router would refuse is a 422 naming the field, not a machine that silently
stays "unknown". `machine_problem` and `reader_problem` return the field and
why, or None; the router reports any problem that remains (a row stored before
these checks) on the machine's record, in the log and in a metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.registry import (
    POWER_ADAPTERS,
    is_stream_reader,
    machine_codec,
    machine_topics,
    reader_codec,
    reader_topics,
)


@dataclass(frozen=True)
class SettingProblem:
    """A setting that would stop a machine or reader from being tracked."""

    field: str
    message: str


@dataclass(frozen=True)
class MachineSettings:
    """The settings of a machine that decide how it is listened to."""

    adapter: str
    address: str
    running_threshold_w: float | None
    run_start_after_s: float
    run_stop_after_s: float


def machine_problem(settings: MachineSettings) -> SettingProblem | None:
    """Why this machine could not be tracked, naming the field, or None."""
    adapter = settings.adapter
    if adapter in POWER_ADAPTERS:
        if settings.running_threshold_w is None:
            return SettingProblem(
                "running_threshold_w",
                f"a {adapter} machine needs running_threshold_w: the power (W) above which "
                "it is running",
            )
        for field in ("run_start_after_s", "run_stop_after_s"):
            if not getattr(settings, field) > 0:
                return SettingProblem(
                    field,
                    f"{field} must be more than 0 s for a {adapter} machine: power must stay "
                    "past the threshold for a while before a run starts or stops",
                )
    try:
        machine_topics(adapter, settings.address)
    except ValueError as exc:
        return SettingProblem("address", f"address is not usable for {adapter}: {exc}")
    try:
        machine_codec(
            adapter,
            "check",
            settings.address,
            settings.running_threshold_w,
            (settings.run_start_after_s, settings.run_stop_after_s),
        )
    except ValueError as exc:
        return SettingProblem("adapter", f"these settings cannot be tracked: {exc}")
    return None


def reader_problem(protocol: str, address: str | None, name: str) -> SettingProblem | None:
    """Why this reader could not be listened to, naming the field, or None."""
    if is_stream_reader(protocol):
        if not address:
            return SettingProblem(
                "address", f"a {protocol} reader needs its serial port in address"
            )
        return None
    topic_part = address or name
    try:
        reader_topics(protocol, topic_part)
        reader_codec(protocol, "check", topic_part)
    except ValueError as exc:
        field = "address" if address else "name"
        return SettingProblem(field, f"{field} is not usable as a lab/v1 topic level: {exc}")
    return None
