"""Server-sent events of state changes, for the dashboard.

The ingest worker (a thread) reports which machines changed; each connected
client has an asyncio queue the hub feeds thread-safely. Queues are bounded: a
slow client misses intermediate changes, never the latest (it refetches state).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent

KEEPALIVE_S = 15


class ChangeHub:
    """Fans change notices out to every connected stream client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()

    def publish(self, machine_ids: set[int]) -> None:
        """Tell every client which machines changed (any thread)."""
        message = json.dumps({"type": "change", "machines": sorted(machine_ids)})
        with self._lock:
            clients = list(self._clients)
        for loop, queue in clients:
            loop.call_soon_threadsafe(_offer, queue, message)

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        """The events for one client, until it goes away (framing and keepalive: sse-starlette)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=100)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._clients.add(entry)
        try:
            yield ServerSentEvent(event="hello", data="{}")
            while True:
                yield ServerSentEvent(event="change", data=await queue.get())
        finally:
            with self._lock:
                self._clients.discard(entry)

    def response(self) -> EventSourceResponse:
        """A streaming response of this hub's events, with a keepalive comment while quiet."""
        return EventSourceResponse(
            self.events(), ping=KEEPALIVE_S, headers={"X-Accel-Buffering": "no"}
        )


def _offer(queue: asyncio.Queue[str], message: str) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)
