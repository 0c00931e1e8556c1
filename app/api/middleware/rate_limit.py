"""Refused unauthenticated writes are rate-limited per source address.

Each source (the client address uvicorn reports, after trusted proxy headers)
has a token bucket of `burst` tokens that refills at `per_minute` a minute.
A write that the service refuses without a valid credential -- a 401, a body
over the limit, any 4xx from a shop webhook (bad signature, bad payload) --
takes a token. A source with no token left gets 429 and `Retry-After` on every
write, before its body is read, until the bucket refills. Callers that are
accepted never pay, so a shop delivering real sales is not slowed by its own
traffic. The table of sources is bounded (least recently seen dropped first).
The buckets live in each replica's memory: N replicas allow N times the rate.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.middleware.respond import send_json_error

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_SOURCES = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class FailureBuckets:
    """Token buckets per source, charged by refused writes."""

    def __init__(
        self, burst: int, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = float(burst)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, source: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(self.burst, now)
            while len(self._buckets) > MAX_SOURCES:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets.move_to_end(source)
        return bucket

    def retry_after(self, source: str) -> int | None:
        """Seconds until `source` may write again, or None when it may now."""
        if source not in self._buckets:
            return None
        bucket = self._bucket(source)
        if bucket.tokens >= 1:
            return None
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def charge(self, source: str) -> None:
        """Take a token from `source` for a refused write."""
        bucket = self._bucket(source)
        bucket.tokens = max(0.0, bucket.tokens - 1)


def refused_without_credentials(path: str, status: int) -> bool:
    """Whether a write answered with `status` counts against its source."""
    if status in (401, 413):
        return True
    return path.startswith("/webhooks/") and 400 <= status < 500


class RateLimitMiddleware:
    """429 with Retry-After for sources that keep sending refused writes."""

    def __init__(self, app: ASGIApp, buckets: FailureBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a limited source's write at once; charge refused writes afterwards."""
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        source = client[0] if client else "unknown"
        wait = self.buckets.retry_after(source)
        if wait is not None:
            await send_json_error(
                send,
                429,
                "too_many_requests",
                f"too many refused requests from this address; retry in {wait} s",
                {"retry_after_s": wait},
                headers=[(b"retry-after", str(wait).encode())],
                close=True,
            )
            return
        status = 500

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            if refused_without_credentials(scope["path"], status):
                self.buckets.charge(source)
