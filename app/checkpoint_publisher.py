"""Signs the ledger's head now and then and publishes it where the database cannot rewrite it.

With `LABLEDGER_CHECKPOINT_KEY_FILE` set, a background thread looks at the head
every `LABLEDGER_CHECKPOINT_INTERVAL_S` seconds; when it moved, it signs a
checkpoint (see `app.accounting.ledger.checkpoints`) and publishes it three ways:
appended to `LABLEDGER_CHECKPOINT_FILE`, retained on the MQTT topic
`LABLEDGER_CHECKPOINT_TOPIC`, and served at `GET /api/v1/ledger/checkpoint`.
A failure to publish one way is logged and does not stop the others; the next
round tries again. Each replica signs on its own: checkpoints of the same head
from two replicas are equally valid.
"""

from __future__ import annotations

import logging
import ssl
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine
from sqlmodel import Session

from app.accounting.ledger.checkpoints import (
    Checkpoint,
    CheckpointError,
    checkpoint_line,
    load_key,
    read_checkpoints,
    sign_checkpoint,
)
from app.accounting.ledger.postings import chain_head
from app.config import Settings
from app.db import utcnow

log = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_S = 10.0


class CheckpointPublisher:
    """The background signer; `latest` is the newest checkpoint it made or found on disk."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.latest: Checkpoint | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Whether a signing key is configured."""
        return self.settings.checkpoint_key_file is not None

    def start(self) -> None:
        """Load the key (failing loudly if it is unusable) and start the thread."""
        if not self.enabled:
            return
        self._load_latest_from_file()
        self._thread = threading.Thread(target=self._run, name="ledger-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, waiting for a round in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign and publish the current head if it moved since the latest checkpoint."""
        assert self.settings.checkpoint_key_file is not None
        key = load_key(self.settings.checkpoint_key_file)
        with Session(self.engine) as session:
            head = chain_head(session)
        if self.latest is not None and (self.latest.sequence, self.latest.head) == (
            head.sequence,
            head.hash,
        ):
            return None
        checkpoint = sign_checkpoint(key, head.sequence, head.hash, utcnow())
        self._append_to_file(checkpoint)
        self._publish_mqtt(checkpoint)
        self.latest = checkpoint
        log.info("ledger checkpoint signed", extra={"sequence": head.sequence})
        return checkpoint

    def _run(self) -> None:
        """Check the head every interval until stopped."""
        while not self._stop.is_set():
            try:
                self.checkpoint_now()
            except CheckpointError as exc:
                log.error("ledger checkpoint not signed: %s", exc)
            except Exception:  # keeps the thread alive through a database outage
                log.exception("ledger checkpoint round failed; trying again next interval")
            self._stop.wait(self.settings.checkpoint_interval_s)

    def _load_latest_from_file(self) -> None:
        """Start from the newest checkpoint already in the file, so a restart signs nothing new."""
        path = self.settings.checkpoint_file
        if path is None or not path.exists():
            return
        try:
            found = read_checkpoints(path)
        except CheckpointError as exc:
            log.error("ledger checkpoint file unreadable: %s", exc)
            return
        self.latest = found[-1] if found else None

    def _append_to_file(self, checkpoint: Checkpoint) -> None:
        """Append the checkpoint to the configured file, if any."""
        path = self.settings.checkpoint_file
        if path is None:
            return
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(checkpoint_line(checkpoint))
        except OSError as exc:
            log.error("ledger checkpoint not written to %s: %s", path, exc.strerror)

    def _publish_mqtt(self, checkpoint: Checkpoint) -> None:
        """Publish the checkpoint retained (QoS 1) to the configured topic, waiting for the ack."""
        settings = self.settings
        if not settings.mqtt_enabled:
            return
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{settings.mqtt_client_id}-checkpoint",
            protocol=mqtt.MQTTv5,
        )
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls:
            ca = str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None
            client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        try:
            client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=30)
            client.loop_start()
            info = client.publish(
                settings.checkpoint_topic, checkpoint_line(checkpoint).strip(), qos=1, retain=True
            )
            info.wait_for_publish(timeout=_PUBLISH_TIMEOUT_S)
            if not info.is_published():
                raise TimeoutError(f"no PUBACK within {_PUBLISH_TIMEOUT_S} s")
        except Exception as exc:  # refused, DNS, TLS, auth or timeout: logged, retried next head
            log.warning(
                "ledger checkpoint not published to MQTT %s:%s: %s",
                settings.mqtt_host,
                settings.mqtt_port,
                exc,
            )
        finally:
            client.loop_stop()
            client.disconnect()
