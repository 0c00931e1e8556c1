"""Hole 1: oversized bodies are refused early with 413, streaming, never read whole.

Before: a 200 MB unauthenticated POST to a webhook was read into memory whole
(108 -> 508 MB) and only then answered 401.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

MB = 1024 * 1024


def _chunked_post(port: int, path: str, total: int, chunk: int = MB) -> tuple[int, dict, int]:
    """POST `total` bytes in chunks over a raw socket; return status, JSON body, bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        block = b"a" * chunk
        try:
            while sent < total:
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                sent += len(block)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: what we want
        response = b""
        try:
            while b"\r\n\r\n" not in response or not _complete(response):
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except OSError:
            pass
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), sent


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _declared_post(port: int, path: str, length: int) -> tuple[int, dict]:
    """Declare a huge Content-Length, send only a little, read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
            + b"{"
        )
        response = b""
        while not _complete(response):
            data = sock.recv(65536)
            if not data:
                break
            response += data
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_a_200_mb_unauthenticated_post_is_refused_without_memory_growth(service_process):
    service = service_process()
    before = service.rss_bytes()
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _n: _chunked_post(service.port, "/webhooks/stripe", 200 * MB), range(4))
        )
    grown = service.rss_bytes() - before
    for status, body, sent in results:
        assert status == 413
        assert body["error"]["code"] == "payload_too_large"
        assert body["error"]["details"]["limit_bytes"] == 64 * 1024
        assert sent < 200 * MB  # refused while the body was still arriving
    assert grown < 30 * MB, f"memory grew by {grown / MB:.1f} MB"
    status, body = _declared_post(service.port, "/webhooks/stripe", 200 * MB)
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    # The service is still answering.
    assert httpx2.get(service.url + "/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/webhooks/generic", 64 * 1024), ("/api/v1/contributors", 1024 * 1024)],
)
def test_limits_per_route_by_declared_length(client, admin, path, limit):
    name = "webhook" if path.startswith("/webhooks/") else "api"
    refused_before = _refused(client, name)
    over = b"x" * (limit + 1)
    response = client.post(
        path, content=over, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit_bytes": limit}
    assert _refused(client, name) == refused_before + 1  # counted, not lost without trace


def _refused(client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'labledger_http_bodies_refused_total{{limit="{name}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_chunked_body_is_counted_as_it_arrives(client, admin):
    def chunks():
        for _ in range(40):
            yield b" " * 32 * 1024

    response = client.post(
        "/api/v1/contributors",
        content=chunks(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit_bytes": 1024 * 1024}


def test_bodies_within_the_limit_still_work(client, admin):
    padded = json.dumps({"name": "Ada"}) + " " * (900 * 1024)
    response = client.post(
        "/api/v1/contributors",
        content=padded.encode(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 201


def test_a_garbled_content_length_is_400(service_process):
    service = service_process()
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.split(b" ", 2)[1] == b"400"
