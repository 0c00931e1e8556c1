"""The access cache: the induction list of this bridge's readers, kept on disk, and its decisions.

LabLedger serves the list at ``GET /api/v1/access/edge`` with a version (an
ETag). The bridge keeps the last one it got in its SQLite file, so it survives
restarts and outages, and refreshes it every ``refresh_s`` (a 304 costs
nothing). While no LabLedger replica is online, `decide` says whether a card
may use a reader's machine: cards on the reader's list are admitted until their
``until``; others are refused (`not_inducted` at a machine that needs an
induction, `unknown_card` elsewhere). A reader missing from the list gets no
local answer at all.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labbridge.database import Database, utc_now_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalDecision:
    """What the bridge decides for one scan: allowed or not, why not, and the relay to switch."""

    allowed: bool
    reason: str | None
    interlock: tuple[str, str] | None


def _parse_time(text: object) -> datetime | None:
    """An RFC 3339 time from the list, or None (no end, or unreadable)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class AccessCache:
    """The cached list, in memory for decisions and on disk for restarts."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._readers: dict[str, dict[str, Any]] = {}
        self.version: str | None = None
        self._load()

    def _load(self) -> None:
        rows = self._db.query("SELECT version, body FROM access_cache WHERE id = 1")
        if rows:
            self._install(rows[0]["version"], json.loads(rows[0]["body"]))

    def _install(self, version: str, body: dict[str, Any]) -> None:
        readers = body.get("readers") if isinstance(body, dict) else None
        if not isinstance(readers, list):
            raise ValueError("access list has no readers array")
        with self._lock:
            self._readers = {
                entry["reader"]: entry
                for entry in readers
                if isinstance(entry, dict) and isinstance(entry.get("reader"), str)
            }
            self.version = version

    def store(self, version: str, body: dict[str, Any]) -> None:
        """Take a new list (checked first), then keep it on disk."""
        self._install(version, body)
        now = utc_now_text()
        with self._db.transaction() as connection:
            connection.execute(
                "INSERT INTO access_cache (id, version, body, fetched_at, checked_at)"
                " VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version,"
                " body = excluded.body, fetched_at = excluded.fetched_at,"
                " checked_at = excluded.checked_at",
                (version, json.dumps(body), now, now),
            )

    def checked(self) -> None:
        """Note that the server said the list is current."""
        with self._db.transaction() as connection:
            connection.execute(
                "UPDATE access_cache SET checked_at = ? WHERE id = 1", (utc_now_text(),)
            )

    def decide(self, reader: str, card: str, at: datetime) -> LocalDecision | None:
        """The decision for a card at a reader, or None if the list does not know the reader."""
        with self._lock:
            entry = self._readers.get(reader)
        if entry is None:
            return None
        interlock = entry.get("interlock")
        relay = (
            (str(interlock["kind"]), str(interlock["address"]))
            if isinstance(interlock, dict)
            else None
        )
        for item in entry.get("cards") or []:
            if isinstance(item, dict) and item.get("card_id") == card:
                until = _parse_time(item.get("until"))
                if until is not None and until <= at:
                    return LocalDecision(False, "expired", relay)
                return LocalDecision(True, None, relay)
        reason = "not_inducted" if entry.get("requires_induction") else "unknown_card"
        return LocalDecision(False, reason, relay)
