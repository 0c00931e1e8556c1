"""Keeps the access cache current: fetches LabLedger's edge list with its ETag, periodically.

``GET <server>/api/v1/access/edge?reader=<name>...`` with a device key; the
last version goes in ``If-None-Match``, so an unchanged list is a 304. A fetch
that fails (server away, bad key) keeps the cached list and is retried after
``retry_s``; the log says so once per outage and once when it is back. Only the
standard library is used, so the bridge needs no HTTP client package.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Final

from labbridge.access import AccessCache
from labbridge.config import AccessConfig

logger = logging.getLogger(__name__)

RETRY_S: Final = 10.0


class AccessSync:
    """One thread that refreshes the cache for this bridge's readers."""

    def __init__(self, config: AccessConfig, readers: list[str], cache: AccessCache) -> None:
        self._config = config
        self._readers = readers
        self._cache = cache
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="labbridge-access", daemon=True)

    def url(self) -> str:
        """The edge list's URL for this bridge's readers."""
        query = urllib.parse.urlencode([("reader", name) for name in self._readers])
        return f"{self._config.server.rstrip('/')}/api/v1/access/edge?{query}"

    def start(self) -> None:
        """Start refreshing."""
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop refreshing."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            ok = self.fetch_once()
            self._stop.wait(self._config.refresh_s if ok else min(RETRY_S, self._config.refresh_s))

    def fetch_once(self) -> bool:
        """Fetch the list once; whether the cache is now current."""
        headers = {
            "Authorization": f"Bearer {self._config.api_key}",
            "Accept": "application/json",
        }
        if self._cache.version:
            headers["If-None-Match"] = f'"{self._cache.version}"'
        # The config admits only http:// and https:// servers.
        request = urllib.request.Request(self.url(), headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._config.timeout_s) as response:  # noqa: S310
                body = json.loads(response.read().decode("utf-8"))
                version = str(body["version"])
                if version != self._cache.version:
                    self._cache.store(version, body)
                    logger.info("access list %s: %s reader(s)", version, len(body["readers"]))
                else:
                    self._cache.checked()
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                self._cache.checked()
                return self._back()
            return self._outage(f"LabLedger answered {exc.code}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return self._outage(f"cannot fetch the access list: {exc}")
        return self._back()

    def _back(self) -> bool:
        if self._failing:
            logger.info("access list reachable again (version %s)", self._cache.version)
        self._failing = False
        return True

    def _outage(self, message: str) -> bool:
        if self._failing:
            logger.debug("%s", message)
        else:
            logger.warning("%s; keeping the cached list (version %s)", message, self._cache.version)
        self._failing = True
        return False
