"""Sends the outbox to the lab broker in order with QoS 1, and keeps the bridge's status topic.

One paho client (MQTT 5, its own reconnect with backoff) and one thread that
walks the outbox in seq order. Up to `window` messages are in flight at once;
MQTT keeps QoS 1 messages of one connection in order, and paho resends the
in-flight ones itself after a reconnect, so a row is handed to paho once per
process and marked published when its PUBACK comes back (`on_publish`).
Nothing new is handed over while disconnected: the backlog stays on disk.

It also listens to LabLedger's retained ``lab/v1/service/+/status``, so the
access gate knows whether any replica is online, and can publish a message
directly (`publish_now`) for answers that must not wait in the outbox.

The retained ``lab/v1/bridge/<id>/status`` is published directly on every
connect (not queued: a queued "online" replayed later would be stale), with a
retained Last Will ``{"state": "offline"}`` for when the bridge vanishes.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from labbridge import __version__
from labbridge.config import BridgeConfig
from labbridge.database import is_disk_full, utc_now_text
from labbridge.mqttlog import paho_log_to
from labbridge.outbox import Outbox
from labbridge.status import StatusBoard
from labbridge.tls import broker_context

logger = logging.getLogger(__name__)

WINDOW: Final = 50
PRUNE_EVERY_S: Final = 300.0
SERVICE_STATUS: Final = "lab/v1/service/+/status"
IDLE_WAKE_S: Final = 0.5


def status_topic(bridge_id: str) -> str:
    """The retained topic of the bridge's online/offline status."""
    return f"lab/v1/bridge/{bridge_id}/status"


def status_payload(state: str) -> bytes:
    """The status message for `state` (online/offline), timed now."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return json.dumps({"state": state, "at": at, "version": __version__}).encode()


@dataclass(slots=True)
class _InFlight:
    """A row handed to paho and not yet acknowledged."""

    mid: int
    seq: int
    topic: str


class Publisher:
    """Owns the connection to the lab broker and drains the outbox into it."""

    def __init__(
        self, config: BridgeConfig, outbox: Outbox, board: StatusBoard, window: int = WINDOW
    ) -> None:
        self._config = config
        self._broker = config.broker
        self._outbox = outbox
        self._board = board
        self._window = window
        self._topic = status_topic(config.bridge_id)
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, ReasonCode]] = queue.SimpleQueue()
        self._outage_logged = False
        self._services: dict[str, bool] = {}
        self._services_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="labbridge-publisher", daemon=True)
        self._client = self._make_client()
        outbox.on_put(self._wake.set)

    @property
    def connected(self) -> bool:
        """Whether the lab broker connection is up."""
        return self._connected.is_set()

    def server_online(self) -> bool:
        """Whether some LabLedger replica says it is online (unknown while disconnected)."""
        if not self._connected.is_set():
            return False
        with self._services_lock:
            return any(self._services.values())

    def publish_now(self, topic: str, payload: bytes) -> bool:
        """Publish one message at once, QoS 1, not queued; whether the broker is connected."""
        if not self._connected.is_set():
            return False
        self._client.publish(topic, payload, qos=1)
        return True

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        """A LabLedger replica's status: note whether it is online."""
        parts = message.topic.split("/")
        if len(parts) != 5:
            return
        try:
            state = json.loads(bytes(message.payload)).get("state")
        except (ValueError, AttributeError):
            state = None
        with self._services_lock:
            self._services[parts[3]] = state == "online"

    def _make_client(self) -> mqtt.Client:
        """The paho client with its Last Will, credentials, TLS and callbacks."""
        broker = self._broker
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"labbridge-{self._config.bridge_id}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.on_log = paho_log_to(logging.getLogger(f"{__name__}.paho"))
        client.max_inflight_messages_set(self._window)
        client.reconnect_delay_set(1, broker.reconnect_max_s)
        client.will_set(self._topic, json.dumps({"state": "offline"}), qos=1, retain=True)
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set_context(broker_context(broker.ca_file))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background (retrying until the broker is there) and start sending."""
        where = f"{self._broker.host}:{self._broker.port}"
        self._board.set_bridge(broker=where, broker_state="connecting", broker_since=utc_now_text())
        self._client.connect_async(self._broker.host, self._broker.port, self._broker.keepalive_s)
        self._client.loop_start()
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop sending, say offline (retained) if connected, and disconnect."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._connected.is_set():
            info = self._client.publish(self._topic, status_payload("offline"), qos=1, retain=True)
            deadline = time.monotonic() + timeout
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                time.sleep(0.01)
        self._client.disconnect()
        self._client.loop_stop()
        self._board.set_bridge(broker_state="stopped", broker_since=utc_now_text())

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        """Say online (retained) and let the publisher send."""
        if reason.is_failure:
            # Wrong credentials or not allowed: paho retries; say so once per outage.
            self._log_outage("lab broker refused the connection: %s", reason)
            return
        logger.info("connected to the lab broker %s:%s", self._broker.host, self._broker.port)
        self._outage_logged = False
        client.publish(self._topic, status_payload("online"), qos=1, retain=True)
        with self._services_lock:
            self._services = {}
        client.subscribe(SERVICE_STATUS, qos=1)
        self._connected.set()
        self._board.set_bridge(broker_state="connected", broker_since=utc_now_text())
        self._wake.set()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        """The broker did not answer; paho retries."""
        self._log_outage("cannot reach the lab broker %s:%s", self._broker.host, self._broker.port)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        """Stop handing over messages until the next connect."""
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._stopping.is_set():
            self._board.set_bridge(broker_state="disconnected", broker_since=utc_now_text())
            self._log_outage("lost the lab broker (%s); messages wait in the outbox", reason)

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        """A PUBACK: hand it to the publisher thread (no work in paho's thread)."""
        self._acks.put((mid, reason))
        self._wake.set()

    def _log_outage(self, message: str, *args: object) -> None:
        """Warn once per outage; repeats go to DEBUG so a long outage does not flood the log."""
        if self._outage_logged:
            logger.debug(message, *args)
            return
        self._outage_logged = True
        self._board.set_bridge(broker_state="unreachable", broker_since=utc_now_text())
        logger.warning(message, *args)

    def _run(self) -> None:
        """The publisher thread: settle acks, hand over rows, prune now and then."""
        in_flight: deque[_InFlight] = deque()
        last_seq = 0
        next_prune = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._settle(in_flight)
                if self._connected.is_set():
                    last_seq = self._hand_over(in_flight, last_seq)
                if time.monotonic() >= next_prune:
                    self._outbox.prune(self._config.keep_published_s, self._config.max_pending)
                    next_prune = time.monotonic() + PRUNE_EVERY_S
            except Exception as exc:
                # A full disk or a locked database must not end the thread: retry shortly.
                if is_disk_full(exc):
                    logger.warning("publisher: the disk is full, cannot mark sent rows; retrying")
                else:
                    logger.exception("publisher step failed; retrying")
                self._stopping.wait(1.0)
            self._wake.wait(IDLE_WAKE_S)

    def _hand_over(self, in_flight: deque[_InFlight], last_seq: int) -> int:
        """Give paho the next waiting rows, up to the window; the last seq handed over."""
        room = self._window - len(in_flight)
        if room <= 0:
            return last_seq
        for message in self._outbox.waiting(last_seq, room):
            info = self._client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                break
            # MQTT_ERR_NO_CONN also leaves the message queued in paho, sent on reconnect.
            in_flight.append(_InFlight(info.mid, message.seq, message.topic))
            last_seq = message.seq
        return last_seq

    def _settle(self, in_flight: deque[_InFlight]) -> None:
        """Mark the rows whose PUBACK came back."""
        acked: dict[int, ReasonCode] = {}
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            acked[mid] = reason
        if not acked:
            return
        done: list[tuple[int, str]] = []
        kept: deque[_InFlight] = deque()
        for entry in in_flight:
            ack = acked.get(entry.mid)
            if ack is None:
                kept.append(entry)
                continue
            if ack.is_failure:
                # Retrying a refused message would stall every later one; keep why in the row.
                logger.error(
                    "lab broker refused outbox message %s on %s: %s", entry.seq, entry.topic, ack
                )
            done.append((entry.seq, str(ack)))
        if done:
            try:
                self._outbox.mark_published(done)
            except Exception:
                # (A full disk.) Keep the acks for the next try, or those rows would hold
                # their window slots for good and be sent again after a restart.
                for mid, reason in acked.items():
                    self._acks.put((mid, reason))
                raise
            in_flight.clear()
            in_flight.extend(kept)
