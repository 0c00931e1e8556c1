"""Answering from middleware with the service's JSON error shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Send


async def send_json_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    close: bool = False,
) -> None:
    """Send `{"error": {...}}` with `status` as the whole response."""
    body = json.dumps(
        {"error": {"code": code, "message": message, "details": details or {}}}
    ).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    if close:
        raw_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
