"""What the service knows about its MQTT connection, for /readyz and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class LinkState(StrEnum):
    """The broker connection as the service last saw it."""

    DISABLED = "disabled"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass
class BrokerStatus:
    """The MQTT link's state and when it last changed (mutated by the ingest client)."""

    state: LinkState = LinkState.DISABLED
    since: datetime | None = None
    detail: str = field(default="")
    broker_dropped: int | None = None
    dropped_first_seen: int | None = None

    @property
    def dropped_since_start(self) -> int:
        """Messages the broker dropped since this replica first read its counter."""
        if self.broker_dropped is None or self.dropped_first_seen is None:
            return 0
        return max(0, self.broker_dropped - self.dropped_first_seen)

    def warning(self) -> str | None:
        """A sentence for /readyz when the broker has dropped messages, else None."""
        if not self.broker_dropped:
            return None
        return (
            f"the broker has dropped {self.broker_dropped} messages since it started "
            f"({self.dropped_since_start} while this replica ran): raise max_queued_messages"
        )
