"""The running bridge: database, publisher, a worker per serial port, a relay per printer."""

from __future__ import annotations

import logging
import os
import threading

from labbridge import __version__
from labbridge.access import AccessCache
from labbridge.access_sync import AccessSync
from labbridge.bambu_relay import BambuRelay
from labbridge.config import BridgeConfig
from labbridge.database import Database, utc_now_text
from labbridge.local_gate import LocalGate
from labbridge.outbox import Outbox
from labbridge.publisher import Publisher
from labbridge.serial_worker import SerialWorker
from labbridge.status import StatusBoard

logger = logging.getLogger(__name__)


class Agent:
    """Starts and stops every part of the bridge together."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.db = Database(config.outbox_path)
        self.outbox = Outbox(self.db)
        self.board = StatusBoard(self.db)
        self.publisher = Publisher(config, self.outbox, self.board)
        self.cache = AccessCache(self.db)
        readers = [device.name for device in config.serial if device.kind == "reader"]
        self.access_sync = (
            AccessSync(config.access, readers, self.cache) if config.access and readers else None
        )
        gate = (
            LocalGate(
                self.cache,
                self.publisher.server_online,
                self.publisher.publish_now,
                config.bridge_id,
            )
            if config.access is not None and config.access.answer_offline
            else None
        )
        self.workers = [
            SerialWorker(
                device,
                self.outbox,
                self.board,
                config.serial_reopen_max_s,
                gate.on_scan if gate is not None and device.kind == "reader" else None,
            )
            for device in config.serial
        ]
        self.relays = [
            BambuRelay(
                printer, config.bridge_id, self.outbox, self.board, config.broker.reconnect_max_s
            )
            for printer in config.bambu
        ]

    def start(self) -> None:
        """Record who runs, then start sending and reading."""
        self.board.register(
            [(d.name, d.label, d.port) for d in self.config.serial]
            + [(p.name, "bambu", f"{p.host}:{p.port}") for p in self.config.bambu]
        )
        self.board.set_bridge(
            bridge_id=self.config.bridge_id,
            version=__version__,
            pid=str(os.getpid()),
            started_at=utc_now_text(),
        )
        waiting = self.outbox.counts().waiting
        logger.info(
            "labbridge %s starting as %s: %s serial device(s), %s Bambu printer(s), %s queued",
            __version__,
            self.config.bridge_id,
            len(self.workers),
            len(self.relays),
            waiting,
        )
        self.publisher.start()
        if self.access_sync is not None:
            self.access_sync.start()
        for worker in self.workers:
            worker.start()
        for relay in self.relays:
            relay.start()

    def stop(self) -> None:
        """Stop reading first, then the publisher (what is unsent stays in the outbox)."""
        for relay in self.relays:
            relay.stop()
        for worker in self.workers:
            worker.stop()
        if self.access_sync is not None:
            self.access_sync.stop()
        self.publisher.stop()
        self.db.close()
        logger.info("labbridge stopped")

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (by a signal handler)."""
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()
