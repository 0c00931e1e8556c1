"""Post one request to the application in-process, through its middleware and routes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message


async def _post(app: ASGIApp, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in {**headers, "content-length": str(len(body))}.items()
        ],
        "client": ("127.0.0.1", 0),
        "server": ("labledger-demo", 80),
    }
    delivered = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, json.loads(b"".join(chunks) or b"null")


def post(app: ASGIApp, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST `body` to `path` and return the status and the JSON answer."""
    return asyncio.run(_post(app, path, body, headers))
