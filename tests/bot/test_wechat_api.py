"""The outbound client against the sandbox: stable_token, one refresher, one retry, errcodes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import Engine

from bot.wechat_api import WeChatAPI, WeChatAPIError
from crm.config import Settings
from crm.kv import get_store
from tests.servers import serve_api

TEXT = {"msgtype": "text", "text": {"content": "工单已受理"}}


@pytest.fixture
def sandbox(engine: Engine, redis_db: redis.Redis) -> Iterator[str]:
    with serve_api(rasa_url="http://127.0.0.1:9", delivery_worker=False) as url:
        yield url


def _run(url: str, coro_fn, secret: str | None = None):  # type: ignore[no-untyped-def]
    settings = Settings(port=int(url.rsplit(":", 1)[1]))

    async def go():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient() as http:
            api = WeChatAPI(
                settings.wechat_oa_appid,
                secret or settings.wechat_oa_secret,
                settings.effective_wechat_api_base,
                get_store(),
                http,
            )
            return await coro_fn(api)

    return asyncio.run(go())


def _sent(url: str, openid: str) -> list[dict]:  # type: ignore[type-arg]
    return httpx.get(f"{url}/sandbox/messages", params={"touser": openid}).json()


def test_send_reaches_the_sandbox_and_token_is_shared(sandbox: str, redis_db: redis.Redis) -> None:
    _run(sandbox, lambda api: api.send_custom({"touser": "o-api-1", **TEXT}))
    assert [m["text"]["content"] for m in _sent(sandbox, "o-api-1")] == ["工单已受理"]
    assert redis_db.get("jx:wechat:token:" + Settings().wechat_oa_appid) is not None


def test_concurrent_callers_fetch_the_token_once(sandbox: str) -> None:
    async def many(api: WeChatAPI) -> list[str]:
        return await asyncio.gather(*(api.token() for _ in range(20)))

    before = _state_token_requests(sandbox)
    tokens = _run(sandbox, many)
    assert len(set(tokens)) == 1
    assert _state_token_requests(sandbox) - before == 1


def _state_token_requests(url: str) -> int:
    return int(httpx.get(f"{url}/sandbox/stats").json()["token_requests"])


def test_token_error_refreshes_once_then_gives_up(sandbox: str) -> None:
    fault = {"path": "/cgi-bin/message/custom/send", "errcode": 40001, "times": 1}
    httpx.post(f"{sandbox}/sandbox/faults", json=fault)
    _run(sandbox, lambda api: api.send_custom({"touser": "o-api-2", **TEXT}))
    assert len(_sent(sandbox, "o-api-2")) == 1  # refreshed and retried once
    httpx.post(f"{sandbox}/sandbox/faults", json={**fault, "times": 5})
    with pytest.raises(WeChatAPIError) as err:
        _run(sandbox, lambda api: api.send_custom({"touser": "o-api-3", **TEXT}))
    assert err.value.errcode == 40001
    assert _sent(sandbox, "o-api-3") == []


@pytest.mark.parametrize(
    ("errcode", "decision"),
    [
        (45015, "fallback"),
        (45047, "fallback"),
        (43004, "stop"),
        (45009, "alert"),
        (-1, "retry"),
        (40007, "fail"),
    ],
)
def test_errcodes_map_to_decisions(sandbox: str, errcode: int, decision: str) -> None:
    fault = {"path": "/cgi-bin/message/custom/send", "errcode": errcode, "times": 1}
    httpx.post(f"{sandbox}/sandbox/faults", json=fault)
    with pytest.raises(WeChatAPIError) as err:
        _run(sandbox, lambda api: api.send_custom({"touser": "o-api-4", **TEXT}))
    assert (err.value.errcode, err.value.decision) == (errcode, decision)


def test_wrong_secret_and_slow_api_are_errors_not_hangs(sandbox: str) -> None:
    with pytest.raises(WeChatAPIError) as err:
        _run(sandbox, lambda api: api.token(), secret="wrong-secret")
    assert err.value.errcode == 40125
    httpx.post(
        f"{sandbox}/sandbox/faults",
        json={"path": "/cgi-bin/message/custom/send", "delay": 6, "times": 1},
    )
    with pytest.raises(WeChatAPIError) as slow:
        _run(sandbox, lambda api: api.send_custom({"touser": "o-api-5", **TEXT}))
    assert slow.value.errcode is None and slow.value.decision == "retry"


def test_an_unreachable_api_says_why() -> None:
    async def go() -> WeChatAPIError:
        async with httpx.AsyncClient() as http:
            api = WeChatAPI("wx-a", "s", "http://127.0.0.1:9", get_store(), http)
            with pytest.raises(WeChatAPIError) as err:
                await api.code_to_session("any-code")
            return err.value

    err = asyncio.run(go())
    assert err.errcode is None and not err.maybe_delivered and err.decision == "retry"
    # httpx's "All connection attempts failed" alone hides the errno; the root cause names it.
    assert "All connection attempts failed (ConnectionRefusedError: [Errno 111]" in err.errmsg
