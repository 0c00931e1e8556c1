"""Ingest as one service: worker, MQTT link and serial readers, started and stopped together."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.config import Settings
from app.ingest import metrics
from app.ingest.interlock import InterlockConfig, InterlockDriver
from app.ingest.leases import SlotLeases
from app.ingest.mqtt_client import MqttLink
from app.ingest.replies import ReplySender
from app.ingest.routing import RowKey, TopicRouter, reader_address, report_problems
from app.ingest.serial_reader import PortSpec, SerialPortReader, parse_address
from app.ingest.serial_targets import serial_target_problem
from app.ingest.slot_partition import partition
from app.ingest.status import BrokerStatus, LinkState
from app.ingest.worker import IngestWorker, MqttInbound, WorkerConfig
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
        self.status = status
        self.router = TopicRouter()
        self._links_lock = threading.Lock()
        self.links: dict[int, MqttLink] = {}
        self.link: MqttLink | None = None
        self.leases: SlotLeases | None = None
        self._slot_filters: dict[int, set[str]] = {}
        if settings.mqtt_enabled and settings.ingest_slots == 0:
            self.link = self.links[0] = MqttLink(
                settings, status, self._enqueue, shared_group=settings.mqtt_shared_group
            )
        elif settings.mqtt_enabled:
            holder = f"{settings.mqtt_client_id}@{socket.gethostname()}:{os.getpid()}"
            self.leases = SlotLeases(
                engine,
                settings.ingest_slots,
                holder[:100],
                settings.ingest_lease_ttl_s,
                self._slot_gained,
                self._slot_lost,
            )
        config = config or WorkerConfig()
        self.replies = ReplySender(self.publish if settings.mqtt_enabled else None)
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
            ack=self._ack,
            on_change=on_change,
            on_refresh=self._refreshed,
            observe=self.interlock.observe,
            on_replies=self.replies.send,
        )
        self.ports: dict[tuple[str, int], SerialPortReader] = {}
        self.port_problems: dict[RowKey, str] = {}
        if not settings.mqtt_enabled:
            status.state = LinkState.DISABLED

    def _enqueue(self, message: object) -> None:
        self.worker.queue.put(message)  # type: ignore[arg-type]

    def _ack(self, message: MqttInbound) -> None:
        """Acknowledge on the slot's link; a slot given up since leaves it for redelivery."""
        link = self.links.get(message.slot)
        if link is not None:
            link.ack(message)

    def slots_reading(self) -> list[int]:
        """The leased slots whose link is connected with every subscription of its share granted.

        None is reading before the topic map is built (a slot's share may be empty).
        """
        if not self.router.filters:
            return []
        with self._links_lock:
            links = dict(self.links)
        return sorted(
            slot
            for slot, link in links.items()
            if link.client.is_connected() and link.acknowledged >= link.wanted
        )

    def _slot_gained(self, slot: int) -> None:
        """Connect with the slot's client id and drain what its session holds."""
        client_id = f"{self.settings.mqtt_client_id}-slot{slot}"
        link = MqttLink(self.settings, self.status, self._enqueue, client_id=client_id, slot=slot)
        with self._links_lock:
            link.set_filters(self._slot_filters.get(slot, set()), self._foreign(slot))
            self.links[slot] = link
        link.start()

    def _slot_lost(self, slot: int) -> None:
        """Stop reading the slot; its unacknowledged messages wait in its session."""
        with self._links_lock:
            link = self.links.pop(slot, None)
        if link is not None:
            link.client.on_message = None
            link.stop()

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
        if self.leases is not None:
            self.leases.start()
        if self.settings.mqtt_enabled:
            self.interlock.start()

    def stop(self) -> None:
        """Stop taking messages, write what is queued, disconnect."""
        for reader in self.ports.values():
            reader.stop()
        if self.link is not None:
            self.link.client.on_message = None
        if self.leases is not None:
            self.leases.stop()
        self.worker.stop()
        if self.settings.mqtt_enabled:
            self.interlock.stop()
        if self.link is not None:
            self.link.stop()

    def refresh(self) -> None:
        """Machines or readers changed: rebuild topics and serial ports soon."""
        self.worker.request_refresh()

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish one message with QoS 1 on a connected link; whether it was handed over."""
        with self._links_lock:
            links = list(self.links.values())
        for link in links:
            if link.client.is_connected():
                return link.client.publish(topic, payload, qos=1).rc == 0
        return False

    def send_replies(self, replies: list[ScanReply]) -> None:
        """Answer readers about scans committed outside the worker (the HTTP event route)."""
        self.replies.send(replies)

    def _filters(self) -> set[str]:
        """Every topic this replica reads: devices, and the relays' reported states."""
        return self.router.filters | self.interlock.filters

    def _partition(self) -> dict[int, set[str]]:
        """Each slot's plain subscriptions: a device's filters together, relay topics by topic."""
        groups = [
            *self.router.device_filters,
            *((f"relay:{topic}", (topic,)) for topic in self.interlock.filters),
        ]
        return partition(groups, self.settings.ingest_slots)

    def _foreign(self, slot: int) -> set[str]:
        """What a slot's restored session may hold but must not: other slots' filters, groups.

        Its share was different under another slot count, and before slots read
        plainly every slot was in the shared group `LABLEDGER_MQTT_SHARED_GROUP`.
        """
        every = set().union(*self._slot_filters.values())
        foreign = every - self._slot_filters.get(slot, set())
        group = self.settings.mqtt_shared_group
        if group:
            foreign |= {f"$share/{group}/{topic_filter}" for topic_filter in every}
        return foreign

    def _refreshed(self) -> None:
        with Session(self.engine) as db:
            self.interlock.rebuild(db)
            self.replies.rebuild(db)
        with self._links_lock:
            if self.leases is None:
                for link in self.links.values():
                    link.set_filters(self._filters())
            else:
                self._slot_filters = self._partition()
                for slot, link in self.links.items():
                    link.set_filters(self._slot_filters[slot], self._foreign(slot))
        self._sync_ports()
        problems = self.problems()
        for kind in ("machine", "reader"):
            metrics.ROUTING_PROBLEMS.labels(kind).set(sum(1 for k, _ in problems if k == kind))

    def problems(self) -> dict[RowKey, str]:
        """Every active machine or reader this replica cannot listen to, and why."""
        found = {**self.port_problems, **self.router.problems}
        for key, port in self.ports.items():
            if not port.connected and port.last_error and key not in found:
                found[key] = f"serial port {port.spec.url} is not open: {port.last_error}"
        return found

    def problem(self, kind: str, row_id: int) -> str | None:
        """Why this replica cannot listen to one machine or reader, or None."""
        return self.problems().get((kind, row_id))

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

    def _allowed(self, kind: str, row_id: int, address: str) -> bool:
        """A target stored before the allow-list (or since removed from it) is not opened."""
        problem = serial_target_problem(address, self.settings.serial_network_allow)
        if problem is not None:
            log.warning("%s %s: serial target not opened: %s", kind, row_id, problem)
        return problem is None

    def _port_specs(self) -> dict[tuple[str, int], tuple[PortSpec, StreamCodec]]:
        specs: dict[tuple[str, int], tuple[PortSpec, StreamCodec]] = {}
        problems: dict[RowKey, str] = {}
        with Session(self.engine) as db:
            machines = db.exec(select(Machine).where(Machine.active)).all()
            readers = db.exec(select(Reader).where(Reader.active)).all()
        for machine in machines:
            key = ("machine", machine.id or 0)
            try:
                if not is_stream_adapter(machine.adapter):
                    continue
                url, baud = parse_address(machine.address, machine.adapter)
                codec = machine_codec(machine.adapter, str(machine.id), machine.address)
            except Exception as exc:  # one bad row must not stop the other ports
                problems[key] = str(exc)
                continue
            if not self._allowed("machine", machine.id or 0, machine.address):
                problems[key] = "network serial target not in LABLEDGER_SERIAL_NETWORK_ALLOW"
                continue
            specs[key] = (PortSpec(key, url, baud, machine.adapter, 2.0), codec)  # type: ignore[assignment]
        for reader in readers:
            key = ("reader", reader.id or 0)
            try:
                if not is_stream_reader(reader.protocol):
                    continue
                url, baud = parse_address(reader_address(reader), reader.protocol)
                codec = reader_codec(reader.protocol, str(reader.id), url)
            except Exception as exc:  # one bad row must not stop the other ports
                problems[key] = str(exc)
                continue
            if not self._allowed("reader", reader.id or 0, reader_address(reader)):
                problems[key] = "network serial target not in LABLEDGER_SERIAL_NETWORK_ALLOW"
                continue
            specs[key] = (PortSpec(key, url, baud, reader.protocol, None), codec)  # type: ignore[assignment]
        report_problems(self.port_problems, problems, "serial")
        self.port_problems = problems
        return specs
