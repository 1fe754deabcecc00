"""End-to-end fixtures: the real Rasa server and action server, and the api on a real port."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from api.main import create_app
from bot.simulator import WeChatSimulator
from bot.stack import MODEL, Stack
from crm.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def rasa_stack(engine: Engine) -> Iterator[Stack]:
    """Rasa (trained model) and the action server, started as `make run` starts them."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: `make test` trains it, or run `make train`")
    stack = Stack(rasa_port=free_port(), actions_port=free_port(), with_api=False)
    stack.start(sys.stderr)
    try:
        stack.wait_ready(timeout=300)
        yield stack
    finally:
        stack.stop()


@contextmanager
def serve_api(**overrides: Any) -> Iterator[str]:
    """The api on a free port (so the outbound client reaches its sandbox over HTTP)."""
    port = free_port()
    settings = Settings(port=port, **overrides)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("api did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture(scope="module")
def api_url(rasa_stack: Stack) -> Iterator[str]:
    """The api wired to the real Rasa and action server, with the default reply budget."""
    with serve_api(rasa_url=rasa_stack.rasa_url, action_server_url=rasa_stack.actions_url) as url:
        yield url


def simulator(url: str, safe_mode: bool = True) -> WeChatSimulator:
    """A fresh WeChat user talking to the api at `url`."""
    s = Settings()
    return WeChatSimulator(
        url,
        s.wechat_oa_token,
        s.wechat_oa_aes_key,
        s.wechat_oa_appid,
        safe_mode=safe_mode,
        timeout=10,
    )
