"""The outbound client against the sandbox: stable_token, customer-service send, one token retry."""

from __future__ import annotations

import httpx
import pytest
import redis
from sqlalchemy import Engine
from wechatpy.exceptions import WeChatClientException

from bot.outbound import make_client
from crm.config import Settings
from tests.servers import serve_api


@pytest.fixture
def sandbox(engine: Engine, redis_db: redis.Redis):  # type: ignore[no-untyped-def]
    with serve_api(rasa_url="http://127.0.0.1:9") as url:
        yield url


def _settings(url: str) -> Settings:
    return Settings(port=int(url.rsplit(":", 1)[1]))


def test_send_text_reaches_the_sandbox(sandbox: str) -> None:
    settings = _settings(sandbox)
    client = make_client(settings, settings.wechat_oa_appid, settings.wechat_oa_secret)
    client.send_text("o-outbound-1", "工单已受理")
    sent = httpx.get(f"{sandbox}/sandbox/messages", params={"touser": "o-outbound-1"}).json()
    assert [(m["msgtype"], m["text"]["content"]) for m in sent] == [("text", "工单已受理")]


def test_token_is_cached_in_redis_and_refreshed_once_when_rejected(
    sandbox: str, redis_db: redis.Redis
) -> None:
    settings = _settings(sandbox)
    client = make_client(settings, settings.wechat_oa_appid, settings.wechat_oa_secret)
    client.send_text("o-outbound-2", "第一条")
    assert redis_db.get(f"wechatpy:{settings.wechat_oa_appid}_access_token") is not None
    redis_db.set(f"wechatpy:{settings.wechat_oa_appid}_access_token", '"revoked-token"')
    client.send_text("o-outbound-2", "第二条")  # 40001, one refresh, then sent
    sent = httpx.get(f"{sandbox}/sandbox/messages", params={"touser": "o-outbound-2"}).json()
    assert [m["text"]["content"] for m in sent] == ["第一条", "第二条"]


def test_wrong_secret_is_an_error_not_a_loop(sandbox: str) -> None:
    settings = _settings(sandbox)
    client = make_client(settings, settings.wechat_oa_appid, "wrong-secret")
    with pytest.raises(WeChatClientException) as err:
        client.send_text("o-outbound-3", "x")
    assert err.value.errcode == 40125
