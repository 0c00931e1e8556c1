"""The few typed events every device is decoded into.

Times are timezone-aware UTC. Each event carries a stable `event_id`: the
payload's own id where the device gives one, otherwise one derived with
`devices.ids.derive_event_id` from source, device time and content, so that a
redelivered message always gets the same id.

A message with neither an id nor a device time cannot be told from a later
identical one by its content: two scans of one card are the same bytes. Its
`event_id` then includes the receive time (every delivery is new) and its
`fingerprint` (source and content, `devices.ids.timeless_event_ids`) lets the
app recognise a redelivery within a bounded window instead of forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RunState(StrEnum):
    """What a machine is doing, as far as its device says."""

    RUNNING = "running"
    PAUSED = "paused"
    IDLE = "idle"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The job stopped without the device saying how (a printer back to idle with no
    # end report): not a user's cancel; the run is flagged for review.
    INTERRUPTED = "interrupted"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class BadgeScan:
    """A card presented at a reader; `badge` is in the canonical form of `devices.rfid`."""

    reader: str
    badge: str
    at: datetime
    event_id: str
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class MachineState:
    """A machine's reported state at one moment, with what the device told about its job."""

    machine: str
    state: RunState
    at: datetime
    event_id: str
    job: str | None = None
    progress: float | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    material: float | None = None
    reported_busy_s: float | None = None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Input a codec could not understand; returned, never raised."""

    source: str
    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message a codec read and, by a documented rule, turned into no event.

    Returned rather than dropped, so the app counts every ignore (by `reason`, a
    short fixed label each codec documents) and nothing a device sends vanishes.
    """

    source: str
    reason: str


Event = BadgeScan | MachineState
Result = Event | DecodeError | Ignored
