"""Stable event ids for messages that carry none of their own.

An id is derived from the source (topic or port), the device's own time when it
has one, and the payload content, hashed with SHA-256. Redelivery of the same
message gives the same id; two distinct readings give distinct ids as long as
either their content or their device time differs.
"""

from __future__ import annotations

import hashlib
from datetime import datetime


def derive_event_id(source: str, device_time: str | None, content: bytes) -> str:
    """Return a stable 32-hex-digit id for a message without an id of its own."""
    digest = hashlib.sha256()
    for part in (source.encode(), (device_time or "").encode(), content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:32]


def timeless_event_ids(source: str, content: bytes, received_at: datetime) -> tuple[str, str]:
    """(event id, fingerprint) of a message with neither an id nor a device time.

    The id includes the receive time, so a later identical message (the same card
    scanned again) is a new event; the fingerprint is the content-only id, by which
    a redelivery is recognised within a bounded window (see `devices.events`).
    """
    return derive_event_id(source, received_at.isoformat(), content), derive_event_id(
        source, None, content
    )
