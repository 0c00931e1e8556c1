"""How device times become timezone-aware UTC.

The rule, applied by every codec:

1. A device time that names its zone (RFC 3339 with an offset, or a Unix
   timestamp, which is UTC by definition) is a real wall-clock time: use it.
2. A device time without a zone (Tasmota's local `Time`) or with no wall-clock
   meaning (Klipper's monotonic `eventtime`) is not trusted for the event time:
   the caller's receive time is used instead. Zone-less times may still feed the
   derived event id, where they keep redeliveries identical.
3. No device time at all: the receive time.

`received_at` passed in by callers must be timezone-aware; a naive one is taken
as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

# Before this, a Unix timestamp is a device clock that was never set (1970 boots).
_EARLIEST_PLAUSIBLE = datetime(2001, 1, 1, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC, reading a naive datetime as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def from_unix(seconds: object, received_at: datetime) -> datetime:
    """A Unix timestamp from a device, or the receive time when it is absent or implausible."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return as_utc(received_at)
    try:
        moment = datetime.fromtimestamp(float(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return as_utc(received_at)
    return moment if moment >= _EARLIEST_PLAUSIBLE else as_utc(received_at)


def from_rfc3339(text: object, received_at: datetime) -> datetime:
    """An RFC 3339 time with a zone, or the receive time when it is absent, zone-less or bad."""
    if not isinstance(text, str):
        return as_utc(received_at)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            return as_utc(received_at)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return as_utc(received_at)
