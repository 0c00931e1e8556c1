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
