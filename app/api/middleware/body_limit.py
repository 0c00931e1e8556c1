"""Request bodies are bounded per route, while they stream in, never read whole first.

A declared `Content-Length` over the route's limit is refused with 413 before a
byte of the body is read. A chunked body (no length) is counted as it arrives
and refused as soon as it passes the limit: the app reads it through a
`receive` that raises `PayloadTooLarge`, which the error handlers turn into the
JSON error shape. Memory per request is therefore bounded by the limit, however
large the body the client tries to send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.middleware.respond import send_json_error
from app.metrics import HTTP_BODIES_REFUSED

log = logging.getLogger(__name__)


class PayloadTooLarge(HTTPException):
    """The request body is larger than its route allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit} bytes allowed here",
            headers={"Connection": "close"},
        )
        self.details = {"limit_bytes": limit}


@dataclass(frozen=True)
class BodyLimits:
    """The largest body per path prefix (named, first match wins), and the limit elsewhere."""

    rules: Sequence[tuple[str, str, int]]
    default: int

    def for_path(self, path: str) -> tuple[str, int]:
        """The name and size of the limit of the route at `path`."""
        for name, prefix, limit in self.rules:
            if path.startswith(prefix):
                return name, limit
        return "api", self.default


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header as an integer, -1 when it is not a number, None when absent."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) <= 18 else -1
    return None


class BodyLimitMiddleware:
    """Refuses bodies over the route's limit with 413, counting bytes as they arrive."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then wrap `receive` to count what really comes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name, limit = self.limits.for_path(scope["path"])
        declared = _declared_length(scope)
        if declared == -1:
            await send_json_error(send, 400, "bad_request", "Content-Length is not a number")
            return
        if declared is not None and declared > limit:
            HTTP_BODIES_REFUSED.labels(name).inc()
            log.warning(
                "request body to %s refused: %s bytes declared, limit %s",
                scope["path"][:100],
                declared,
                limit,
            )
            await send_json_error(
                send,
                413,
                "payload_too_large",
                f"the request body is larger than {limit} bytes allowed here",
                {"limit_bytes": limit},
                close=True,
            )
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    HTTP_BODIES_REFUSED.labels(name).inc()
                    log.warning(
                        "request body to %s refused: more than %s bytes streamed",
                        scope["path"][:100],
                        limit,
                    )
                    raise PayloadTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except PayloadTooLarge as exc:
            # Only reached when no handler inside answered (e.g. read outside a route).
            if started:
                raise
            await send_json_error(
                send, 413, "payload_too_large", str(exc.detail), exc.details, close=True
            )
