"""Pure device codecs: bytes or (topic, payload) in, typed events out, no I/O.

`devices` knows nothing of the app. Every codec returns `DecodeError` values for
bad input instead of raising, so one noisy device never stops ingest, and an
`Ignored` value (with a documented reason) for every message it reads and
deliberately turns into no event, so nothing is dropped without being counted.
"""

from devices.events import (
    BadgeScan,
    DecodeError,
    Event,
    Ignored,
    MachineState,
    Result,
    RunState,
)

__all__ = ["BadgeScan", "DecodeError", "Event", "Ignored", "MachineState", "Result", "RunState"]
