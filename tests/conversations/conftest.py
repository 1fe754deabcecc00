"""End-to-end fixtures: the real Rasa server and action server, and the api on a real port."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.simulator import WeChatSimulator
from bot.stack import MODEL, Stack
from crm.config import Settings
from tests.api.conftest import sent_to
from tests.servers import free_port, serve_api

API_PORT = free_port()


@pytest.fixture(scope="session")
def rasa_stack(engine: Engine) -> Iterator[Stack]:
    """Rasa (trained model) and the action server, started as `make run` starts them."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: `make test` trains it, or run `make train`")
    # The action server reaches the api's sandbox (the development SMS sender) on API_PORT.
    stack = Stack(
        rasa_port=free_port(),
        actions_port=free_port(),
        port=API_PORT,
        with_api=False,
    )
    stack.start(sys.stderr)
    try:
        stack.wait_ready(timeout=300)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def api_url(rasa_stack: Stack) -> Iterator[str]:
    """The api wired to the real Rasa and action server, with the default reply budget."""
    with serve_api(
        API_PORT, rasa_url=rasa_stack.rasa_url, action_server_url=rasa_stack.actions_url
    ) as url:
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


class Chat:
    """One customer: what they say, and everything the bot answers (passive or pushed)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sim: WeChatSimulator = simulator(url)
        self.seen = 0

    def say(self, text: str, expect: int = 1) -> str:
        """Send `text`; the bot's replies of this turn joined (waits for `expect` of them)."""
        passive = self.sim.say(text)
        got = 1 if passive else 0
        pushed = self._pushed(max(0, expect - got))
        return "\n".join([passive or "", *pushed]).strip()

    def _pushed(self, at_least: int) -> list[str]:
        items = sent_to(self.url, self.sim.openid, count=self.seen + at_least, wait=15)
        new = items[self.seen :]
        self.seen = len(items)
        return [content(item) for item in new]

    def notices(self, count: int) -> list[str]:
        """Customer-service notices pushed since the last look (waits for `count`)."""
        return self._pushed(count)


def msg_id() -> int:
    return (1 << 62) + secrets.randbits(60)  # unique: WeChat's retries are recognised by MsgId


def content(item: dict[str, Any]) -> str:
    if item.get("msgtype") == "msgmenu":
        menu = item["msgmenu"]
        return str(menu["head_content"]) + " " + " ".join(c["content"] for c in menu["list"])
    return str(item.get("text", {}).get("content", ""))
