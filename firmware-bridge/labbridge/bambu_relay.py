"""Relays a Bambu printer's own MQTT reports, unchanged, to the lab broker through the outbox.

A Bambu printer runs its own broker (TLS on 8883, user ``bblp``, the LAN access
code as password) and publishes ``device/<serial>/report``; reports can be
partial, so on every (re)connect the relay asks for a full one (``pushall``).
The server decodes Bambu itself: the relay forwards each report with the same
topic and payload, and decodes only to say in the status table what the
printer is doing.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from devices.bambu import BambuCodec
from devices.events import MachineState
from labbridge.config import BambuPrinterConfig
from labbridge.mqttlog import paho_log_to
from labbridge.outbox import Outbox
from labbridge.status import StatusBoard, summarise_state
from labbridge.tls import printer_context

logger = logging.getLogger(__name__)

BAMBU_USER: Final = "bblp"
KEEPALIVE_S: Final = 30


class BambuRelay:
    """One printer's connection: subscribe to its reports, ask for a full one, forward them."""

    def __init__(
        self,
        printer: BambuPrinterConfig,
        bridge_id: str,
        outbox: Outbox,
        board: StatusBoard,
        reconnect_max_s: int,
    ) -> None:
        self.printer = printer
        self._outbox = outbox
        self._board = board
        self._codec = BambuCodec(printer.name, printer.serial)
        self._summary = "report"
        self._outage_logged = False
        self._stopping = False
        self._lock = threading.Lock()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"labbridge-{bridge_id}-{printer.serial}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        client.on_log = paho_log_to(logging.getLogger(f"{__name__}.paho"))
        client.reconnect_delay_set(1, reconnect_max_s)
        client.username_pw_set(BAMBU_USER, printer.access_code)
        if printer.tls:
            client.tls_set_context(printer_context(printer.serial, printer.ca_file))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def address(self) -> str:
        """Where the printer's broker is, for logs and the status table."""
        return f"{self.printer.host}:{self.printer.port}"

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with backoff."""
        self._client.connect_async(self.printer.host, self.printer.port, KEEPALIVE_S)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect from the printer."""
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._board.port(self.printer.name, is_open=False)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        """Subscribe to the reports and ask for a full one."""
        if reason.is_failure:
            self._outage(f"printer refused the connection: {reason}")
            return
        logger.info("bambu %s: connected to %s", self.printer.name, self.address)
        self._outage_logged = False
        self._board.port(self.printer.name, is_open=True)
        client.subscribe(self._codec.report_topic, qos=0)
        # Reports are deltas: ask for the whole state after every (re)connect.
        topic, payload = self._codec.pushall_request()
        client.publish(topic, payload, qos=0)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        """The printer's broker did not answer."""
        self._outage(f"cannot reach {self.address}")

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        """The printer went away; paho reconnects."""
        self._outage(f"disconnected from {self.address}: {reason}")

    def _outage(self, error: str) -> None:
        """Warn once per outage; repeats go to DEBUG."""
        if self._stopping:
            return
        if self._outage_logged:
            logger.debug("bambu %s: %s", self.printer.name, error)
            return
        self._outage_logged = True
        logger.warning("bambu %s: %s; retrying", self.printer.name, error)
        self._board.port(self.printer.name, is_open=False, error=error)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        """Queue the report unchanged, then note what it says for the status table."""
        payload = bytes(message.payload)
        try:
            self._outbox.put(message.topic, payload)
        except Exception:
            logger.exception("bambu %s: could not queue a report", self.printer.name)
            return
        with self._lock:
            results = self._codec.decode(message.topic, payload, datetime.now(UTC))
            for result in results:
                if isinstance(result, MachineState):
                    self._summary = f"report: {summarise_state(result)}"
            self._board.seen(self.printer.name, self._summary)
