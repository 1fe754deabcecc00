"""The api on a real port (its delivery worker talks to its sandbox over HTTP), without Rasa."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, select

from bot.simulator import WeChatSimulator
from crm.config import Settings
from crm.conversations.models import Message
from crm.customers.models import WechatIdentity
from crm.db import session_scope
from crm.staff import service as staff_service
from tests.servers import serve_api

CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens: Rasa is "down" for these tests
STAFF_PASSWORD = "backoffice-pass-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
LogIn = Callable[[str], httpx.Client]


def make_staff(role: str = "agent", store: str | None = None, name: str = "小王") -> str:
    """A committed back-office account (password STAFF_PASSWORD); its username."""
    username = f"s{secrets.token_hex(5)}"
    with session_scope() as session:
        staff_service.create_user(session, username, name, STAFF_PASSWORD, role, store)
    return username


@pytest.fixture
def api(engine: Engine, redis_db: redis.Redis) -> Iterator[str]:
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        yield url


@pytest.fixture
def login(api: str) -> Iterator[LogIn]:
    """Log a staff member in through the login form: an HTTP client holding their session."""
    clients: list[httpx.Client] = []

    def log_in(username: str) -> httpx.Client:
        client = httpx.Client(base_url=api, follow_redirects=False, timeout=10)
        clients.append(client)
        token = CSRF_FIELD.search(client.get("/backoffice/login").text)
        assert token is not None
        data = {"username": username, "password": STAFF_PASSWORD, "csrf_token": token.group(1)}
        assert client.post("/backoffice/login", data=data).status_code == 303
        return client

    yield log_in
    for client in clients:
        client.close()


def make_sim(
    url: str, channel: str = "oa", safe_mode: bool = True, json_format: bool = False, **kw: Any
) -> WeChatSimulator:
    """A WeChat user of the official account ("oa") or the mini-program ("mp")."""
    s = Settings()
    token, key, appid = (
        (s.wechat_oa_token, s.wechat_oa_aes_key, s.wechat_oa_appid)
        if channel == "oa"
        else (s.wechat_mp_token, s.wechat_mp_aes_key, s.wechat_mp_appid)
    )
    return WeChatSimulator(
        url,
        token,
        kw.pop("aes_key", key),
        kw.pop("appid", appid),
        safe_mode=safe_mode,
        path=f"/wechat/{channel}",
        json_format=json_format,
        **kw,
    )


def inbound(openid: str) -> list[Message]:
    """Inbound messages stored for `openid`, oldest first."""
    with session_scope() as session:
        stmt = (
            select(Message)
            .join(Message.conversation)
            .where(Message.direction == "in", Message.raw.contains(openid))
            .order_by(Message.id)
        )
        return list(session.scalars(stmt))


def identity_of(openid: str) -> WechatIdentity:
    with session_scope() as session:
        found = session.scalars(select(WechatIdentity).where(WechatIdentity.openid == openid))
        return found.one()


def sent_to(
    url: str, openid: str, kind: str = "custom", wait: float = 10, count: int = 1
) -> list[dict[str, Any]]:
    """What the sandbox received for `openid`, waiting up to `wait` s for at least `count`."""
    deadline = time.monotonic() + wait
    while True:
        items: list[dict[str, Any]] = httpx.get(
            f"{url}/sandbox/messages", params={"touser": openid, "kind": kind}
        ).json()
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [m["text"]["content"] for m in items]


Poll = Callable[[], bool]


def eventually(check: Poll, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()
