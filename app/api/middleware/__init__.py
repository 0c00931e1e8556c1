"""Pure ASGI middleware around the whole service: limits, metrics, headers, rate limits."""
