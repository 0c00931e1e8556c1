"""Pure device codecs: bytes or (topic, payload) in, typed events out, no I/O.

`devices` knows nothing of the app. Every codec returns `DecodeError` values for
bad input instead of raising, so one noisy device never stops ingest.
"""

from devices.events import BadgeScan, DecodeError, Event, MachineState, Result, RunState

__all__ = ["BadgeScan", "DecodeError", "Event", "MachineState", "Result", "RunState"]
