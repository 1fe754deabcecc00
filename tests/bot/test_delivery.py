"""The outbox and its delivery worker against the sandbox: order, retries, fallback, recovery."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any, cast

import httpx
import redis
from sqlalchemy import Engine, select, update

from bot.delivery import DeliveryWorker
from crm.config import Settings
from crm.db import session_scope, utcnow
from crm.outbox import service as outbox
from crm.outbox.models import OutboxItem
from tests.api.conftest import CLOSED_PORT_URL, eventually, sent_to, texts
from tests.servers import serve_api

APPID = Settings().wechat_oa_appid
SEND = "/cgi-bin/message/custom/send"


def _text(openid: str, content: str) -> dict[str, object]:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


def _enqueue(openid: str, content: str, **kw: object) -> int:
    with session_scope() as session:
        return outbox.enqueue(
            session, appid=APPID, openid=openid, kind="custom", payload=_text(openid, content), **kw
        ).id  # type: ignore[arg-type]


def _status(item_id: int) -> str:
    with session_scope() as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None
        return item.status


def _fault(url: str, errcode: int | None, times: int = 1, path: str = SEND) -> None:
    httpx.post(f"{url}/sandbox/faults", json={"path": path, "errcode": errcode, "times": times})


def _cancel_others_pending() -> None:
    """What other tests left unsent must not take a one-shot fault meant for this test."""
    with session_scope() as session:
        session.execute(
            update(OutboxItem).where(OutboxItem.status == "pending").values(status="cancelled")
        )


def test_busy_wechat_is_retried_and_order_per_user_kept(
    engine: Engine, redis_db: redis.Redis
) -> None:
    openid = "o-order-" + secrets.token_hex(4)
    _cancel_others_pending()
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        _fault(url, -1)
        first, second = _enqueue(openid, "第一条"), _enqueue(openid, "第二条")
        httpx.post(f"{url}/sandbox/faults", json={"path": "/none", "times": 0})
        assert eventually(lambda: _status(second) == "sent", 15)
        assert texts(sent_to(url, openid)) == ["第一条", "第二条"]
    with session_scope() as session:
        item = session.get(OutboxItem, first)
        assert item is not None and item.attempts == 2 and item.errcode == -1


def test_out_of_window_falls_back_to_a_template(engine: Engine, redis_db: redis.Redis) -> None:
    openid = "o-fallback-" + secrets.token_hex(4)
    template = {
        "kind": "template",
        "payload": {
            "touser": openid,
            "template_id": "tpl-ticket",
            "client_msg_id": "t-1-" + openid,
            "data": {},
        },
    }
    _cancel_others_pending()
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        _fault(url, 45015)
        item_id = _enqueue(openid, "您的工单已受理")
        with session_scope() as session:
            session.get(OutboxItem, item_id).fallback = template  # type: ignore[union-attr]
        assert eventually(lambda: bool(sent_to(url, openid, "template", wait=0)), 10)
    assert _status(item_id) == "failed"
    with session_scope() as session:
        kinds = session.scalars(select(OutboxItem.kind).where(OutboxItem.openid == openid)).all()
        assert sorted(kinds) == ["custom", "template"]


def test_user_who_unfollowed_is_not_retried(engine: Engine, redis_db: redis.Redis) -> None:
    openid = "o-stop-" + secrets.token_hex(4)
    _cancel_others_pending()
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        _fault(url, 43004)
        item_id = _enqueue(openid, "x")
        assert eventually(lambda: _status(item_id) == "failed", 10)
        assert sent_to(url, openid, wait=0) == []


def test_crash_mid_send_never_sends_a_custom_message_twice(
    engine: Engine, redis_db: redis.Redis
) -> None:
    """A send interrupted by a crash: a template (client_msg_id) is safely re-sent, a
    customer-service message is marked unknown rather than risk a duplicate."""
    openid = "o-crash-" + secrets.token_hex(4)
    template_payload = {
        "touser": openid,
        "template_id": "tpl",
        "client_msg_id": "c-" + openid,
        "data": {},
    }
    with session_scope() as session:
        ids = []
        for kind, payload in (("custom", _text(openid, "x")), ("template", template_payload)):
            item = outbox.enqueue(session, appid=APPID, openid=openid, kind=kind, payload=payload)
            item.status, item.lease_until = "sending", utcnow() - timedelta(minutes=1)
            ids.append(item.id)
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:  # the worker recovers at start-up
        assert eventually(lambda: _status(ids[1]) == "sent", 10)
        assert len(sent_to(url, openid, "template")) == 1
        assert sent_to(url, openid, wait=0) == []
    assert _status(ids[0]) == "unknown"


def test_idempotency_key_enqueues_once(engine: Engine) -> None:
    openid = "o-idem-" + secrets.token_hex(4)
    first = _enqueue(openid, "x", idempotency_key="k-" + openid)
    assert _enqueue(openid, "x", idempotency_key="k-" + openid) == first


def test_wechat_answering_too_late_never_duplicates_a_message(
    engine: Engine, redis_db: redis.Redis
) -> None:
    """WeChat takes the send but answers after our timeout: a customer-service message is not
    sent again (unknown); a template, carrying client_msg_id, is retried and WeChat keeps one."""
    openid = "o-late-" + secrets.token_hex(4)
    template = {"touser": openid, "template_id": "tpl", "client_msg_id": "l-" + openid, "data": {}}
    _cancel_others_pending()
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        for path in (SEND, "/cgi-bin/message/template/send"):
            httpx.post(f"{url}/sandbox/faults", json={"path": path, "delay": 6})  # > 5 s timeout
        custom = _enqueue(openid, "您的问题已答复")
        with session_scope() as session:
            templated = outbox.enqueue(
                session, appid=APPID, openid="t" + openid, kind="template", payload=template
            ).id
        assert eventually(lambda: _status(custom) == "unknown", 15)
        assert eventually(lambda: _status(templated) == "sent", 20)
        assert texts(sent_to(url, openid, wait=3)) == ["您的问题已答复"]  # arrived, once
        assert len(sent_to(url, openid, "template", wait=0)) == 1
    with session_scope() as session:
        item = session.get(OutboxItem, templated)
        assert item is not None and item.attempts == 2


class _RecordingAPI:
    """Stands in for the WeChat API client: takes every customer-service message at once."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_custom(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(str(payload["touser"]))
        return {"errcode": 0, "msgid": len(self.sent)}


def test_answers_enqueued_one_after_another_go_out_in_one_round(engine: Engine) -> None:
    """Deferred answers come a few ms apart under load: a round each (and an empty claim
    after it) cost three transactions per answer; they now wait a moment for each other."""
    _cancel_others_pending()
    api = _RecordingAPI()
    worker = DeliveryWorker({APPID: cast(Any, api)}, set())
    claims: list[int] = []
    claim = worker._claim

    def counted() -> list[OutboxItem]:
        items = claim()
        claims.append(len(items))
        return items

    worker._claim = counted  # type: ignore[method-assign]
    openids = [f"o-gather-{secrets.token_hex(4)}" for _ in range(5)]

    async def scenario() -> None:
        task = asyncio.create_task(worker.run_forever())
        await asyncio.sleep(0.2)  # its first (empty) round is done
        claims.clear()
        for openid in openids:  # 5 ms apart, as Rasa's answers under load
            await asyncio.to_thread(_enqueue, openid, "答案")
            worker.wake()
            await asyncio.sleep(0.005)
        for _ in range(200):
            if len(api.sent) == len(openids):
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert sorted(api.sent) == sorted(openids)
    assert len([n for n in claims if n]) <= 2, claims
    assert len(claims) <= 3, claims
