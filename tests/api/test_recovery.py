"""Recovery without the real Rasa: the spool on disk, Redis falling back to memory, and a
conversation handed to a human when Rasa stays away."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError

from bot import replies
from bot.spool import Spool
from bot.wechat import Push, push_from_raw
from crm.config import Settings
from crm.conversations import service as conversations
from crm.conversations.models import Message
from crm.db import session_scope, utcnow
from crm.kv import RedisStore, ResilientStore, redis_client
from tests.api.conftest import CLOSED_PORT_URL, eventually, make_sim, sent_to, texts
from tests.conftest import TEST_REDIS_URL
from tests.proxy import Proxy
from tests.servers import serve_api

APPID = Settings().wechat_oa_appid


def _push(openid: str, text: str, msg_id: int) -> Push:
    xml = (
        f"<xml><ToUserName>gh_x</ToUserName><FromUserName>{openid}</FromUserName>"
        f"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>{text}</Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )
    return push_from_raw(xml)


def test_spool_keeps_a_push_once_and_replays_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first, second = _push("o-a", "一", 1), _push("o-a", "二", 2)
    spool.keep("wx1", first)
    spool.keep("wx1", second)
    spool.keep("wx1", first)  # WeChat's retry of the same push: still one file
    assert len(spool.waiting()) == 2
    (tmp_path / "00000000000000000000-broken.push.json").write_text("{not json")
    seen: list[str] = []

    async def store(appid: str, push: Push) -> None:
        seen.append(f"{appid}:{push.text}")

    assert asyncio.run(spool.replay(store)) == 2
    assert seen == ["wx1:一", "wx1:二"]
    assert spool.waiting() == [] and len(list(spool.failed.iterdir())) == 1


def test_spool_replay_stops_while_the_database_is_away(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.keep("wx1", _push("o-b", "一", 1))
    spool.keep("wx1", _push("o-b", "二", 2))

    async def down(appid: str, push: Push) -> None:
        raise OperationalError("INSERT", {}, ConnectionRefusedError())

    assert asyncio.run(spool.replay(down)) == 0
    assert len(spool.waiting()) == 2  # nothing lost, nothing reordered


def test_store_falls_back_to_memory_and_returns_to_redis(redis_db: redis.Redis) -> None:
    url = urlsplit(TEST_REDIS_URL)
    with Proxy(url.hostname or "127.0.0.1", url.port or 6379) as proxy:
        client = redis_client(f"redis://127.0.0.1:{proxy.port}{url.path}")
        store = ResilientStore(RedisStore(client), retry_seconds=0.3)
        assert store.claim("k1", 60) and not store.claim("k1", 60)
        proxy.cut()
        started = time.monotonic()
        assert store.claim("k2", 60) and not store.claim("k2", 60)  # in memory meanwhile
        assert [store.hit("rl:k2", 1, 60).allowed for _ in range(2)] == [True, False]
        assert store.degraded and time.monotonic() - started < 2
        proxy.restore()
        time.sleep(0.4)
        assert store.claim("k3", 60)
        assert not store.degraded
        assert redis_db.exists("jx:k3") and not redis_db.exists("jx:k2")


def test_rasa_away_too_long_hands_the_customer_to_a_human(engine: Engine) -> None:
    with session_scope() as session:  # what other tests left owed is not this sweep's business
        session.execute(
            update(Message).where(Message.status.in_(("pending", "retry"))).values(status=None)
        )
    with serve_api(
        rasa_url=CLOSED_PORT_URL,
        recovery=True,
        pending_retry_seconds=0.2,
        pending_handoff_minutes=0.01,
    ) as url:
        sim = make_sim(url)
        assert sim.say("电池保修多久") == replies.BUSY
        assert eventually(lambda: bool(sent_to(url, sim.openid, wait=0)), 10)
        told = texts(sent_to(url, sim.openid))
    assert len(told) == 1 and "人工" in told[0]
    with session_scope() as session:
        conversation = conversations.conversation_of(session, APPID, sim.openid)
        assert conversation is not None
        assert conversation.state == "queued"
        statuses = session.scalars(
            select(Message.status).where(
                Message.conversation_id == conversation.id, Message.direction == "in"
            )
        ).all()
        assert statuses == ["handed"]


@pytest.mark.parametrize("status", ["pending", "retry"])
def test_a_pending_message_is_owed_once_no_process_can_be_asking(
    engine: Engine, status: str
) -> None:
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        sim = make_sim(url)
        sim.say("电池保修多久")
    with session_scope() as session:
        message = session.scalars(
            select(Message).where(Message.raw.contains(sim.openid), Message.direction == "in")
        ).one()
        message.status = status
        session.flush()
        recent = conversations.awaiting_bot(session, [APPID], utcnow() - timedelta(seconds=60))
        later = conversations.awaiting_bot(session, [APPID], utcnow() + timedelta(seconds=1))
        assert (message.id in [m.id for m, _, _ in recent]) == (status == "retry")
        assert message.id in [m.id for m, _, _ in later]
