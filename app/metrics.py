"""Prometheus metrics of the process, defined once at import."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "labledger_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "labledger_http_request_seconds", "Time to answer an HTTP request", ["method", "route"]
)
WEBHOOK_REJECTS = Counter(
    "labledger_webhook_rejects_total",
    "Shop webhook deliveries refused, by provider and error code",
    ["provider", "code"],
)
HTTP_BODIES_REFUSED = Counter(
    "labledger_http_bodies_refused_total",
    "Request bodies refused for their size, by limit (webhook or api)",
    ["limit"],
)
