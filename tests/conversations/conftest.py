"""End-to-end fixtures: the real Rasa server and action server, and the api on a real port."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.simulator import WeChatSimulator
from bot.stack import MODEL, Stack
from crm.config import Settings
from tests.servers import free_port, serve_api


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
