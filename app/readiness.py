"""The service's view of its database: ready, or why not and what to run.

The service never works on a database it cannot use: until the database exists,
answers and is at the newest migration, `/readyz` says why (one sentence naming
the setting and the fix), API calls answer 503 with the same sentence, and
ingest waits. A watcher re-checks with backoff (applying migrations first when
LABLEDGER_MIGRATE_ON_START is set) and starts ingest once the database is ready,
so `labledger db upgrade` run beside a waiting service is enough.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.db_status import DatabaseUnusable, ensure_ready, migrate

log = logging.getLogger(__name__)

RECHECK_AFTER_S = 1.0
WATCH_MAX_DELAY_S = 30.0


class DatabaseGate:
    """Remembers whether the database is usable; re-checks it at most once a second."""

    def __init__(self, url: str, *, migrate_on_start: bool) -> None:
        self.url = url
        self.migrate_on_start = migrate_on_start
        self.ready = False
        self.state = "unchecked"
        self.detail = ""
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self, *, apply_migrations: bool = False) -> bool:
        """Check the database now (migrating first if asked) and remember the outcome."""
        with self._lock:
            try:
                if apply_migrations:
                    migrate(self.url)
                ensure_ready(self.url)
            except DatabaseUnusable as problem:
                self._note(problem.state, problem.message)
                return False
            self._note("ok", "")
            self.ready = True
            return True

    def usable(self) -> bool:
        """Whether the database is ready, re-checking (read only) when it was not."""
        if self.ready:
            return True
        if time.monotonic() - self._checked_at < RECHECK_AFTER_S:
            return False
        return self.check()

    def _note(self, state: str, detail: str) -> None:
        self._checked_at = time.monotonic()
        if (state, detail) != (self.state, self.detail) and state != "ok":
            log.warning("database not ready: %s", detail, extra={"database": state})
        self.state, self.detail = state, detail

    def open(self, on_ready: Callable[[], None]) -> None:
        """At start-up: check (migrating when configured); call `on_ready` now or once ready."""
        if self.check(apply_migrations=self.migrate_on_start):
            on_ready()
            return
        self._thread = threading.Thread(
            target=self._watch, args=(on_ready,), name="labledger-database-gate", daemon=True
        )
        self._thread.start()

    def _watch(self, on_ready: Callable[[], None]) -> None:
        delay = 1.0
        while not self._stop.wait(delay):
            if self.check(apply_migrations=self.migrate_on_start):
                log.info("database ready; starting ingest")
                on_ready()
                return
            delay = min(delay * 2, WATCH_MAX_DELAY_S)

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
