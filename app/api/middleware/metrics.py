"""HTTP metrics whose every label comes from a closed set.

The method is one of the HTTP methods the service answers, else `other`; the
route is the matched route's template (`/api/v1/machines/{machine_id}`), else
`unmatched`; the status is the three-digit code. However many distinct
methods or paths clients invent, the number of series stays fixed.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import HTTP_LATENCY, HTTP_REQUESTS

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The method, or `other` when it is not a standard one."""
    return method if method in KNOWN_METHODS else "other"


def route_label(scope: Scope) -> str:
    """The matched route's path template, or `unmatched`."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


def status_label(status: int) -> str:
    """The status code as text, when it is a real one."""
    return str(status) if 100 <= status <= 599 else "other"


class MetricsMiddleware:
    """Counts and times every HTTP request under bounded labels."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and record it when the response starts (or the app fails)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            method = method_label(scope["method"])
            route = route_label(scope)
            HTTP_REQUESTS.labels(method, route, status_label(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
