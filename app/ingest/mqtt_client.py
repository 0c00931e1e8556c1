"""The service's MQTT connection: persistent session, QoS 1, acks after commit.

paho-mqtt 2.x with MQTT 5. The client id is fixed per replica and the session
persists (`clean_start=False` and a session expiry), so messages published
while the service is down wait at the broker. Acknowledgements are manual: the
worker acks a message only after its effects are committed. A retained
`lab/v1/service/<client id>/status` says online; the Last Will says offline.
With a shared-subscription group, replicas split the stream.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
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


def status_topic(client_id: str) -> str:
    """Where this replica announces itself."""
    return f"lab/v1/service/{client_id}/status"


def _status_payload(state: str) -> bytes:
    return json.dumps({"state": state, "at": datetime.now(UTC).isoformat()}).encode()


class MqttLink:
    """Connects, keeps subscriptions in line with the configured topics, and feeds the worker."""

    def __init__(self, settings: Settings, status: BrokerStatus, enqueue: Any) -> None:
        self.settings = settings
        self.status = status
        self._enqueue = enqueue
        self._lock = threading.Lock()
        self._generation = 0
        self._wanted: set[str] = set()
        self._subscribed: set[str] = set()
        self._pending: dict[int, list[str]] = {}
        self.acknowledged: set[str] = set()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.enable_logger(logging.getLogger("paho"))
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            self.client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls:
            self.client.tls_set(
                ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        self.client.will_set(
            status_topic(settings.mqtt_client_id), _status_payload("offline"), qos=1, retain=True
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
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
                status_topic(self.settings.mqtt_client_id),
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
        group = self.settings.mqtt_shared_group
        return f"$share/{group}/{topic_filter}" if group else topic_filter

    def set_filters(self, filters: set[str]) -> None:
        """Subscribe to new topic filters and drop ones no longer needed."""
        with self._lock:
            self._wanted = set(filters)
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

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self._set(LinkState.DISCONNECTED, f"broker refused the connection: {reason}")
            log.warning("MQTT connection refused: %s", reason)
            return
        self._generation += 1
        self._set(LinkState.CONNECTED)
        log.info("MQTT connected to %s:%s", self.settings.mqtt_host, self.settings.mqtt_port)
        client.publish(
            status_topic(self.settings.mqtt_client_id),
            _status_payload("online"),
            qos=1,
            retain=True,
        )
        with self._lock:
            self._subscribed = set()
            self.acknowledged = set()
            self._pending = {}
            self._sync_subscriptions()

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
        metrics.MESSAGES.labels("mqtt").inc()
        self._enqueue(
            MqttInbound(
                message.topic,
                bytes(message.payload),
                message.mid,
                message.qos,
                datetime.now(UTC),
                self._generation,
            )
        )
