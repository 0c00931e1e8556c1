"""An ASGI app served over real HTTP by uvicorn in a thread of the test process.

The listening socket is bound before uvicorn starts and handed to it, so no
other process can take the port between choosing it and listening on it (with
a port chosen first, a busy machine sometimes did).
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn

from tests.ingest.conftest import eventually


class ThreadedServer:
    """Serves `app` on 127.0.0.1 until `stop`: on a free port, or on `port` to come back on it."""

    def __init__(self, app: Any, port: int = 0, **config: Any) -> None:
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, **config))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        eventually(lambda: self.server.started, timeout=15)

    def stop(self, timeout: float = 15) -> None:
        """Ask uvicorn to finish, wait for its thread, release the socket."""
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()
