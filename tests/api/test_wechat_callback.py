"""The OA callback without Rasa: verification, forgeries, bad input, dedup, events."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.main import create_app
from bot import replies
from bot.simulator import WeChatSimulator, sign
from crm.config import get_settings
from crm.conversations.models import Message
from crm.db import session_scope


@pytest.fixture
def client(engine: Engine, redis_db: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings())) as client:
        yield client


def _sim(client: TestClient, safe_mode: bool = True) -> WeChatSimulator:
    s = get_settings()
    return WeChatSimulator(
        "http://testserver",
        s.wechat_oa_token,
        s.wechat_oa_aes_key,
        s.wechat_oa_appid,
        safe_mode=safe_mode,
    )


def _post(client: TestClient, sim: WeChatSimulator, xml: str, **override: str):  # type: ignore[no-untyped-def]
    params, body = sim.envelope(xml)
    return client.post("/wechat/oa", params={**params, **override}, content=body)


def _count(openid: str) -> int:
    with session_scope() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Message).where(Message.raw.contains(openid))
            )
            or 0
        )


def _event(sim: WeChatSimulator, event: str, created: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{sim.account}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sim.openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event></xml>"
    )


def test_url_verification_echoes_only_for_wechat(client: TestClient) -> None:
    token = get_settings().wechat_oa_token
    ok = {
        "signature": sign(token, "1714036504", "1514711492"),
        "timestamp": "1714036504",
        "nonce": "1514711492",
        "echostr": "4375120948345356249",
    }
    response = client.get("/wechat/oa", params=ok)
    assert (response.status_code, response.text) == (200, "4375120948345356249")
    forged = client.get("/wechat/oa", params={**ok, "signature": "0" * 40})
    assert forged.status_code == 403 and "4375120948345356249" not in forged.text


@pytest.mark.parametrize("safe_mode", [True, False])
def test_forged_push_is_refused_and_nothing_stored(client: TestClient, safe_mode: bool) -> None:
    sim = _sim(client, safe_mode)
    key = "msg_signature" if safe_mode else "signature"
    response = _post(client, sim, sim.text_xml("电池保修多久"), **{key: "0" * 40})
    assert response.status_code == 403
    assert _count(sim.openid) == 0


def test_missing_parameters_are_refused(client: TestClient) -> None:
    response = client.post("/wechat/oa", content=b"<xml/>")
    assert response.status_code == 403


def test_malformed_xml_answers_success_and_stores_nothing(client: TestClient) -> None:
    sim = _sim(client, safe_mode=False)
    response = _post(client, sim, f"<xml><FromUserName>{sim.openid}</FromUserName><MsgType>te")
    assert (response.status_code, response.text) == (200, "success")
    assert _count(sim.openid) == 0


def test_subscribe_gets_welcome_once_even_when_redelivered(client: TestClient) -> None:
    sim = _sim(client)
    xml = _event(sim, "subscribe", int(time.time()))
    first = sim.open_reply(_post(client, sim, xml))
    again = _post(client, sim, xml)
    assert first == replies.WELCOME
    assert (again.status_code, again.text) == (200, "success")
    assert _count(sim.openid) == 1


def test_dedup_survives_a_lost_redis_claim(client: TestClient, redis_db: redis.Redis) -> None:
    """The database's unique key still stops a retry when the Redis claim has gone."""
    sim = _sim(client, safe_mode=False)
    xml = _event(sim, "subscribe", int(time.time()))
    assert sim.open_reply(_post(client, sim, xml)) == replies.WELCOME
    redis_db.flushdb()
    assert _post(client, sim, xml).text == "success"
    assert _count(sim.openid) == 1


def test_image_is_kept_and_answered_politely(client: TestClient) -> None:
    sim = _sim(client)
    msg_id = (1 << 62) + secrets.randbits(60)
    xml = (
        f"<xml><ToUserName><![CDATA[{sim.account}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sim.openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl><![CDATA[http://example.com/a.jpg]]></PicUrl>"
        f"<MediaId><![CDATA[media1]]></MediaId><MsgId>{msg_id}</MsgId></xml>"
    )
    assert sim.open_reply(_post(client, sim, xml)) == replies.IMAGE_KEPT
    with session_scope() as session:
        stored = session.scalars(select(Message).where(Message.wechat_msg_id == msg_id)).one()
        assert stored.msg_type == "image" and stored.direction == "in"
        assert (stored.media_id, stored.media_url) == ("media1", "http://example.com/a.jpg")


def test_unknown_event_answers_success(client: TestClient) -> None:
    sim = _sim(client)
    response = _post(client, sim, _event(sim, "some_future_event", int(time.time())))
    assert (response.status_code, response.text) == (200, "success")
    assert _count(sim.openid) == 1  # kept, even though nothing is said


def test_unknown_message_type_is_kept_and_answered_success(client: TestClient) -> None:
    sim = _sim(client, safe_mode=False)
    xml = sim.text_xml("x").replace("<![CDATA[text]]>", "<![CDATA[hologram]]>")
    response = _post(client, sim, xml)
    assert (response.status_code, response.text) == (200, "success")
    assert _count(sim.openid) == 1
