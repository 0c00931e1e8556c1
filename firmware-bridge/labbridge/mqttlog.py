"""paho's own log lines, kept at DEBUG so the bridge's log says each outage once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt


def paho_log_to(target: logging.Logger) -> Callable[[mqtt.Client, Any, int, str], None]:
    """An `on_log` sending paho's own messages to `target` at DEBUG.

    paho logs every failed reconnect at ERROR; the bridge says once per outage
    what is wrong, so paho's detail is only for debugging.
    """

    def on_log(_client: mqtt.Client, _userdata: Any, _level: int, message: str) -> None:
        """One paho log line, at DEBUG."""
        target.debug("%s", message)

    return on_log
