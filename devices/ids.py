"""Stable event ids for messages that carry none of their own.

An id is derived from the source (topic or port), the device's own time when it
has one, and the payload content, hashed with SHA-256. Redelivery of the same
message gives the same id; two distinct readings give distinct ids as long as
either their content or their device time differs.
"""

from __future__ import annotations

import hashlib


def derive_event_id(source: str, device_time: str | None, content: bytes) -> str:
    """Return a stable 32-hex-digit id for a message without an id of its own."""
    digest = hashlib.sha256()
    for part in (source.encode(), (device_time or "").encode(), content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:32]
