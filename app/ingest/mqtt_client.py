"""The service's MQTT connection: persistent session, QoS 1, acks after commit.

paho-mqtt 2.x with MQTT 5. The client id is fixed per replica and the session
persists (`clean_start=False` and a session expiry), so messages published
while the service is down wait at the broker. Acknowledgements are manual: the
worker acks a message only after its effects are committed. A retained
`lab/v1/service/<client id>/status` says online; the Last Will says offline.
Without ingest slots, a shared-subscription group lets replicas split the
stream; a slot's link subscribes plainly to its own filters (`slot_partition`).
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from app.config import Settings
from app.ingest import metrics
from app.ingest.status import BrokerStatus, LinkState
from app.ingest.worker import MqttInbound

log = logging.getLogger(__name__)

RECEIVE_MAXIMUM = 500
RETRY_MIN_S = 1
RETRY_MAX_S = 30
# Mosquitto's count of messages it dropped (full queues, oversized); see README, broker settings.
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"


def status_topic(client_id: str) -> str:
    """Where this replica announces itself."""
    return f"lab/v1/service/{client_id}/status"


def _status_payload(state: str) -> bytes:
    return json.dumps({"state": state, "at": datetime.now(UTC).isoformat()}).encode()


def connection_failure_reason(exc: BaseException, tls: bool = False) -> str:
    """Why a connection attempt failed, in the words a broker's admin uses."""
    if tls and isinstance(exc, ConnectionResetError | BrokenPipeError | ssl.SSLEOFError):
        return "TLS handshake failed (the broker closed the connection: is this its TLS port?)"
    if isinstance(exc, socket.gaierror):
        return "host name not found (DNS)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running on this port?)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message}; set LABLEDGER_MQTT_CA_FILE)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc}; check LABLEDGER_MQTT_TLS and the port)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out)"
    return f"{type(exc).__name__}: {exc}"


def refusal_reason(reason: ReasonCode) -> str:
    """Why the broker refused a CONNECT, with the settings that fix it."""
    text = str(reason)
    if text in ("Bad user name or password", "Not authorized"):
        return f"{text.lower()} (auth: check LABLEDGER_MQTT_USERNAME and LABLEDGER_MQTT_PASSWORD)"
    return f"the broker refused the connection: {text}"


class _QuietPahoLogs(logging.Filter):
    """paho's own messages are detail: they are written at DEBUG, under LabLedger's lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote the record to DEBUG; keep it only when DEBUG is on."""
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


class _Client(mqtt.Client):
    """paho's client, remembering why the last connection attempt failed (paho does not say)."""

    last_error: BaseException | None = None

    def reconnect(self) -> MQTTErrorCode:
        """Connect again, keeping the exception of a failed attempt for the log and /readyz."""
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_error = exc
            raise


class MqttLink:
    """Connects, keeps subscriptions in line with the configured topics, and feeds the worker."""

    def __init__(
        self,
        settings: Settings,
        status: BrokerStatus,
        enqueue: Any,
        client_id: str | None = None,
        slot: int = 0,
        shared_group: str | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id or settings.mqtt_client_id
        self.slot = slot
        self.shared_group = shared_group
        self.status = status
        self._enqueue = enqueue
        self._lock = threading.Lock()
        self._generation = 0
        self._wanted: set[str] = set()
        self._foreign: set[str] = set()
        self._subscribed: set[str] = set()
        self._pending: dict[int, list[str]] = {}
        self.acknowledged: set[str] = set()
        self._failures = 0
        self.client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        paho_log = logging.getLogger("paho")
        if not any(isinstance(f, _QuietPahoLogs) for f in paho_log.filters):
            paho_log.addFilter(_QuietPahoLogs())
        self.client.enable_logger(paho_log)
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            self.client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls:
            self.client.tls_set(
                ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        self.client.will_set(
            status_topic(self.client_id), _status_payload("offline"), qos=1, retain=True
        )
        self.client.reconnect_delay_set(min_delay=RETRY_MIN_S, max_delay=RETRY_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _set(self, state: LinkState, detail: str = "") -> None:
        self.status.state = state
        self.status.since = datetime.now(UTC)
        self.status.detail = detail

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with backoff."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._set(LinkState.CONNECTING)
        self.client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=30,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Say offline, disconnect and stop the network thread."""
        connected = self.client.is_connected()
        if connected:
            info = self.client.publish(
                status_topic(self.client_id),
                _status_payload("offline"),
                qos=1,
                retain=True,
            )
            info.wait_for_publish(timeout=2)
        self._set(LinkState.DISABLED, "stopped")
        if connected:
            self.client.disconnect()
        self.client.loop_stop()
        self._set(LinkState.DISABLED, "stopped")

    def ack(self, message: MqttInbound) -> None:
        """Acknowledge a message whose effects are committed, on the connection it came on.

        After a reconnect the broker resends what was not acknowledged, with new
        deliveries to acknowledge; an ack from an older connection would be wrong.
        """
        if message.qos > 0 and message.generation == self._generation:
            self.client.ack(message.mid, message.qos)

    def _filter(self, topic_filter: str) -> str:
        group = self.shared_group
        return f"$share/{group}/{topic_filter}" if group else topic_filter

    @property
    def wanted(self) -> set[str]:
        """The topic filters this link is meant to read."""
        with self._lock:
            return set(self._wanted)

    def set_filters(self, filters: set[str], foreign: set[str] | None = None) -> None:
        """Subscribe to new topic filters and drop ones no longer needed.

        `foreign` are subscriptions this link must not have, though the broker may
        have kept them in its session from an earlier share (another slot count, a
        shared group): they are dropped on every connect.
        """
        with self._lock:
            self._wanted = set(filters)
            self._foreign = set(foreign or ()) - self._wanted
            if self.client.is_connected():
                self._sync_subscriptions()

    def _sync_subscriptions(self) -> None:
        added = sorted(self._wanted - self._subscribed)
        removed = sorted(self._subscribed - self._wanted)
        if added:
            result, mid = self.client.subscribe(
                [(self._filter(f), SubscribeOptions(qos=1)) for f in added]
            )
            if result == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                self._pending[mid] = added
        if removed:
            self.client.unsubscribe([self._filter(f) for f in removed])
            self.acknowledged -= set(removed)
        self._subscribed = set(self._wanted)

    def _where(self) -> str:
        tls = " (TLS)" if self.settings.mqtt_tls else ""
        return f"{self.settings.mqtt_host}:{self.settings.mqtt_port}{tls}"

    def _failed(self, reason: str) -> None:
        """Log one line for a failed attempt and show it in /readyz; paho retries with backoff."""
        self._failures += 1
        retry_in = min(RETRY_MIN_S * 2 ** (self._failures - 1), RETRY_MAX_S)
        detail = f"cannot connect to the MQTT broker at {self._where()}: {reason}"
        self._set(LinkState.DISCONNECTED, f"{detail}; retrying in {retry_in}s")
        log.warning(
            "%s; retrying in %ss (attempt %s)",
            detail,
            retry_in,
            self._failures,
            extra={
                "mqtt_host": self.settings.mqtt_host,
                "mqtt_port": self.settings.mqtt_port,
                "attempt": self._failures,
            },
        )

    def _on_connect_fail(self, client: mqtt.Client, _userdata: Any) -> None:
        error = getattr(client, "last_error", None)
        reason = connection_failure_reason(error, self.settings.mqtt_tls) if error else "failed"
        self._failed(reason)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self._failed(refusal_reason(reason))
            return
        self._failures = 0
        self._generation += 1
        self._set(LinkState.CONNECTED)
        log.info("MQTT connected to %s:%s", self.settings.mqtt_host, self.settings.mqtt_port)
        client.publish(
            status_topic(self.client_id),
            _status_payload("online"),
            qos=1,
            retain=True,
        )
        with self._lock:
            self._subscribed = set()
            self.acknowledged = set()
            self._pending = {}
            if self._foreign:
                client.unsubscribe(sorted(self._foreign))
            self._sync_subscriptions()
        client.subscribe(DROPPED_TOPIC, qos=0)

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: list[ReasonCode], _props: Any
    ) -> None:
        """Note which filters the broker granted (a refused one is logged)."""
        with self._lock:
            filters = self._pending.pop(mid, [])
            for topic_filter, reason in zip(filters, reasons, strict=False):
                if reason.is_failure:
                    log.warning("broker refused subscription to %s: %s", topic_filter, reason)
                else:
                    self.acknowledged.add(topic_filter)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self.status.state != LinkState.DISABLED:
            self._set(LinkState.DISCONNECTED, str(reason))
            log.warning("MQTT disconnected: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == DROPPED_TOPIC:
            self._note_dropped(bytes(message.payload))
            return
        metrics.MESSAGES.labels("mqtt").inc()
        self._enqueue(
            MqttInbound(
                message.topic,
                bytes(message.payload),
                message.mid,
                message.qos,
                datetime.now(UTC),
                self._generation,
                self.slot,
            )
        )

    def _note_dropped(self, payload: bytes) -> None:
        """Keep the broker's dropped-message count; warn when it grows."""
        try:
            dropped = int(payload.decode().strip())
        except (UnicodeDecodeError, ValueError):
            log.warning("unreadable %s payload %r", DROPPED_TOPIC, payload[:40])
            return
        status = self.status
        before = status.broker_dropped
        status.broker_dropped = dropped
        if status.dropped_first_seen is None:
            status.dropped_first_seen = dropped
        metrics.BROKER_DROPPED.set(dropped)
        if dropped > (before or 0):
            log.warning(
                "the MQTT broker has dropped %s messages (%s new): messages may be lost; "
                "raise max_queued_messages (README, broker settings)",
                dropped,
                dropped - (before or 0),
            )
