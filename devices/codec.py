"""The two shapes every codec has, so the server, the bridge and the tests drive them alike."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from devices.events import Result


class MqttCodec(Protocol):
    """Decodes one MQTT message of the topics it was built for."""

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Return the events (or decode errors) that one message carries."""
        ...


class StreamCodec(Protocol):
    """Parses a byte stream (a serial port) incrementally; frames may split across reads."""

    def feed(self, data: bytes, received_at: datetime) -> list[Result]:
        """Consume the next bytes read and return the events completed by them."""
        ...
