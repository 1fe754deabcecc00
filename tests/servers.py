"""Real servers for tests: the api on a free port, so that its sandbox is reachable over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.main import create_app
from bot.sandbox import sandbox_state
from crm.config import Settings

# Every api server of the test run talks to one WeChat sandbox, as servers share the real API:
# a delivery worker of one server may send what another server's runtime queued.
SHARED_SANDBOX = sandbox_state(Settings())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_api(port: int | None = None, **overrides: Any) -> Iterator[str]:
    """The api on a free (or the given) port, so the outbound client reaches its sandbox."""
    with serve_app(port, **overrides) as (url, _):
        yield url


@contextmanager
def serve_app(port: int | None = None, **overrides: Any) -> Iterator[tuple[str, FastAPI]]:
    """serve_api, also giving the app (a test may look at its state)."""
    port = port or free_port()
    settings = Settings(port=port, **overrides)
    SHARED_SANDBOX.faults.clear()  # a fault a test injected never outlives its server
    app = create_app(settings, sandbox=SHARED_SANDBOX)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("api did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        SHARED_SANDBOX.faults.clear()
        server.should_exit = True
        thread.join(20)
