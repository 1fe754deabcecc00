"""The menu file is valid, every click does something, and it publishes to the sandbox."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis
from sqlalchemy import Engine

from bot import menu
from crm.config import get_settings
from tests.api.conftest import CLOSED_PORT_URL
from tests.servers import serve_api


def test_every_click_key_has_an_action() -> None:
    loaded = menu.load_menu()
    assert loaded["version"] >= 1
    assert menu.click_text("HUMAN") == "转人工"
    assert menu.click_text("NO_SUCH_KEY") is None


def test_publish_to_the_sandbox(
    engine: Engine, redis_db: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        monkeypatch.setenv("WECHAT_API_BASE", f"{url}/sandbox")
        get_settings.cache_clear()
        try:
            asyncio.run(menu.publish())
        finally:
            get_settings.cache_clear()
        settings = get_settings()
        token = httpx.post(
            f"{url}/sandbox/cgi-bin/stable_token",
            json={"appid": settings.wechat_oa_appid, "secret": settings.wechat_oa_secret},
        ).json()["access_token"]
        published = httpx.get(
            f"{url}/sandbox/cgi-bin/menu/get", params={"access_token": token}
        ).json()
    assert published["menu"]["button"] == menu.load_menu()["button"]
