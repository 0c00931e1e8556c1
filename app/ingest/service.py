"""Ingest as one service: worker, MQTT link and serial readers, started and stopped together."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.config import Settings
from app.ingest.interlock import InterlockConfig, InterlockDriver
from app.ingest.mqtt_client import MqttLink
from app.ingest.replies import ReplySender
from app.ingest.routing import TopicRouter, reader_address
from app.ingest.serial_reader import PortSpec, SerialPortReader, parse_address
from app.ingest.status import BrokerStatus, LinkState
from app.ingest.worker import IngestWorker, WorkerConfig
from app.lab.access.gate import ScanReply
from app.lab.models import Machine, Reader
from devices.codec import StreamCodec
from devices.registry import is_stream_adapter, is_stream_reader, machine_codec, reader_codec

log = logging.getLogger(__name__)


class IngestService:
    """Owns every ingest thread of this replica."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        status: BrokerStatus,
        on_change: Callable[[set[int]], None],
        config: WorkerConfig | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.router = TopicRouter()
        self.link = MqttLink(settings, status, self._enqueue) if settings.mqtt_enabled else None
        config = config or WorkerConfig()
        self.replies = ReplySender(self.publish if self.link else None)
        self.interlock = InterlockDriver(
            engine,
            InterlockConfig(
                settings.interlock_confirm_s, settings.interlock_attempts, config.interlock_every_s
            ),
            self.publish,
            f"labledger/{settings.mqtt_client_id}",
        )
        self.worker = IngestWorker(
            engine,
            self.router,
            config,
            ack=self.link.ack if self.link else (lambda _m: None),
            on_change=on_change,
            on_refresh=self._refreshed,
            observe=self.interlock.observe,
            on_replies=self.replies.send,
        )
        self.ports: dict[tuple[str, int], SerialPortReader] = {}
        if not settings.mqtt_enabled:
            status.state = LinkState.DISABLED

    def _enqueue(self, message: object) -> None:
        self.worker.queue.put(message)  # type: ignore[arg-type]

    def start(self) -> None:
        """Build the topic map, connect, and start reading."""
        try:
            with Session(self.engine) as db:
                self.router.rebuild(db)
            self._refreshed()
        except OperationalError:
            log.warning("database unreachable at start; ingest will retry")
        self.worker.start()
        if self.link is not None:
            self.link.start()
            self.interlock.start()

    def stop(self) -> None:
        """Stop taking messages, write what is queued, disconnect."""
        for reader in self.ports.values():
            reader.stop()
        if self.link is not None:
            self.link.client.on_message = None
        self.worker.stop()
        if self.link is not None:
            self.interlock.stop()
            self.link.stop()

    def refresh(self) -> None:
        """Machines or readers changed: rebuild topics and serial ports soon."""
        self.worker.request_refresh()

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish one message with QoS 1 if the broker is connected; whether it was handed over."""
        if self.link is None or not self.link.client.is_connected():
            return False
        info = self.link.client.publish(topic, payload, qos=1)
        return info.rc == 0

    def send_replies(self, replies: list[ScanReply]) -> None:
        """Answer readers about scans committed outside the worker (the HTTP event route)."""
        self.replies.send(replies)

    def _refreshed(self) -> None:
        with Session(self.engine) as db:
            self.interlock.rebuild(db)
            self.replies.rebuild(db)
        if self.link is not None:
            self.link.set_filters(self.router.filters | self.interlock.filters)
        self._sync_ports()

    def _sync_ports(self) -> None:
        wanted = self._port_specs()
        for key in set(self.ports) - set(wanted):
            self.ports.pop(key).stop()
        for key, (spec, codec) in wanted.items():
            current = self.ports.get(key)
            if current is not None and current.spec == spec:
                continue
            if current is not None:
                current.stop()
            reader = SerialPortReader(spec, codec, self.worker.queue.put)
            self.ports[key] = reader
            reader.start()

    def _port_specs(self) -> dict[tuple[str, int], tuple[PortSpec, StreamCodec]]:
        specs: dict[tuple[str, int], tuple[PortSpec, StreamCodec]] = {}
        with Session(self.engine) as db:
            machines = db.exec(select(Machine).where(Machine.active)).all()
            readers = db.exec(select(Reader).where(Reader.active)).all()
        for machine in machines:
            if machine.id is None or not is_stream_adapter(machine.adapter):
                continue
            url, baud = parse_address(machine.address, machine.adapter)
            codec = machine_codec(machine.adapter, str(machine.id), machine.address)
            key = ("machine", machine.id)
            specs[key] = (PortSpec(key, url, baud, machine.adapter, 2.0), codec)  # type: ignore[assignment]
        for reader in readers:
            if reader.id is None or not is_stream_reader(reader.protocol):
                continue
            url, baud = parse_address(reader_address(reader), reader.protocol)
            codec = reader_codec(reader.protocol, str(reader.id), url)
            key = ("reader", reader.id)
            specs[key] = (PortSpec(key, url, baud, reader.protocol, None), codec)  # type: ignore[assignment]
        return specs
