"""Answers readers and switches relays from the access cache while LabLedger is offline.

LabLedger announces each replica on the retained ``lab/v1/service/<id>/status``
(``online``, with ``offline`` as its Last Will). While at least one replica is
online the bridge leaves every decision to it. While none is, a scan at one of
this bridge's readers is decided from the cache: the bridge publishes the reply
on ``lab/v1/badge/<reader>/reply`` (``"source": "bridge"``) and, for an
admitted card at a machine with an interlock, the relay's "on" command. It
never switches a relay off: with no view of the machine's runs it could cut a
job, so switching off waits for LabLedger, which gets every scan from the
outbox when it returns and reconciles the relay.

These messages are published directly, not through the outbox: an answer or a
command replayed an hour later would be wrong.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable

from devices import relay
from devices.events import BadgeScan
from labbridge.access import AccessCache

logger = logging.getLogger(__name__)

PublishNow = Callable[[str, bytes], bool]


class LocalGate:
    """Decides scans locally when no LabLedger replica is online."""

    def __init__(
        self,
        cache: AccessCache,
        server_online: Callable[[], bool],
        publish_now: PublishNow,
        bridge_id: str,
    ) -> None:
        self._cache = cache
        self._server_online = server_online
        self._publish_now = publish_now
        self._source = f"labbridge/{bridge_id}"
        self._ids = itertools.count(1)

    def on_scan(self, scan: BadgeScan) -> None:
        """Answer one scan from the cache, unless LabLedger is there to answer it."""
        if self._server_online():
            return
        decision = self._cache.decide(scan.reader, scan.badge, scan.at)
        if decision is None:
            return
        reply = {
            "allowed": decision.allowed,
            "reason": decision.reason,
            "scan_id": scan.event_id,
            "source": "bridge",
        }
        self._publish_now(f"lab/v1/badge/{scan.reader}/reply", json.dumps(reply).encode())
        logger.info(
            "LabLedger offline: reader %s %s from the cache%s",
            scan.reader,
            "admitted" if decision.allowed else "refused",
            "" if decision.allowed else f" ({decision.reason})",
        )
        if decision.allowed and decision.interlock is not None:
            kind, address = decision.interlock
            try:
                message = relay.command(kind, address, True, next(self._ids), self._source)
            except ValueError as exc:
                logger.warning("reader %s: cannot switch its relay: %s", scan.reader, exc)
                return
            self._publish_now(message.topic, message.payload)
