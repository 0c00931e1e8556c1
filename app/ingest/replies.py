"""Answers to badge readers: `lab/v1/badge/<reader>/reply` after a scan's effects are committed.

Payload: ``{"allowed": bool, "reason": null | "not_inducted" | "expired" |
"revoked" | "unknown_card" | "out_of_service", "scan_id": "<event id>"}``, QoS 1,
not retained. Only lab/v1 (MQTT) readers get one; a reader that cannot show
anything may ignore it. Denials are counted here, once per recorded scan.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from sqlmodel import Session, select

from app.ingest import metrics
from app.ingest.routing import reader_address
from app.lab.access.gate import ScanReply
from app.lab.models import Reader, ReaderProtocol

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], bool]


def reply_topic(address: str) -> str:
    """Where a lab/v1 reader hears the answer to its scans."""
    return f"lab/v1/badge/{address}/reply"


def reply_payload(reply: ScanReply) -> bytes:
    """The JSON answer to one scan."""
    body = {"allowed": reply.allowed, "reason": reply.reason, "scan_id": reply.scan_id}
    return json.dumps(body).encode()


class ReplySender:
    """Knows each MQTT reader's topic; counts denials and publishes replies."""

    def __init__(self, publish: Publish | None) -> None:
        self._publish = publish
        self._topics: dict[int, str] = {}

    def rebuild(self, db: Session) -> None:
        """Reload the reply topic of every active MQTT reader."""
        readers = db.exec(
            select(Reader).where(Reader.active, Reader.protocol == ReaderProtocol.MQTT)
        ).all()
        self._topics = {r.id: reply_topic(reader_address(r)) for r in readers if r.id is not None}

    def send(self, replies: list[ScanReply]) -> None:
        """Count and publish the replies of committed scans."""
        for reply in replies:
            if not reply.allowed and reply.reason is not None:
                metrics.DENIED_SCANS.labels(str(reply.reason)).inc()
            topic = self._topics.get(reply.reader_id)
            if topic is None or self._publish is None:
                continue
            if not self._publish(topic, reply_payload(reply)):
                log.warning("could not publish the reply to reader %s", reply.reader_id)
