"""The handoff through the real api over HTTP (Rasa down: an angry message needs no Rasa):
queue, live events, take, reply through the sandbox, transfer, resolve; refusals change nothing."""

from __future__ import annotations

import json
import re
import threading

import httpx
from sqlalchemy import select

from bot.simulator import WeChatSimulator
from crm.conversations.service import conversation_of
from crm.db import session_scope
from crm.handoff.models import Handoff
from tests.api.conftest import CSRF_FIELD, LogIn, make_sim, make_staff, sent_to, texts

TOKEN = CSRF_FIELD
VERSION = re.compile(r'name="version" value="(\d+)"')
ANGRY = "你们就是骗子，修了三次还坏！！"


def page_token(client: httpx.Client, path: str) -> tuple[str, str, int]:
    """The csrf token, the page and the version it shows."""
    page = client.get(path)
    token, version = TOKEN.search(page.text), VERSION.search(page.text)
    assert token is not None, page.text
    return token.group(1), page.text, int(version.group(1)) if version else 0


def queued_handoff(api: str) -> tuple[WeChatSimulator, int]:
    sim = make_sim(api)
    assert (sim.say(ANGRY) or "").startswith("非常抱歉让您不愉快了")
    with session_scope() as session:
        conversation = conversation_of(session, sim.appid, sim.openid)
        assert conversation is not None and conversation.state == "queued"
        handoff = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation.id)
        ).one()
        return sim, handoff.id


def state_of(handoff_id: int) -> tuple[str, int | None]:
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        return handoff.state, handoff.agent_id


def test_take_reply_resolve_over_http(api: str, login: LogIn) -> None:
    sim, handoff_id = queued_handoff(api)
    agent = login(make_staff(name="小王"))
    token, queue, _ = page_token(agent, "/backoffice")
    assert f'data-handoff="{handoff_id}"' in queue and "情绪激动" in queue
    path = f"/backoffice/handoffs/{handoff_id}"
    token, page, version = page_token(agent, path)
    assert ANGRY in page and "接入会话" in page
    taken = agent.post(f"{path}/take", data={"csrf_token": token, "version": version})
    assert taken.status_code == 303 and state_of(handoff_id)[0] == "assigned"
    assert sim.say("订单号 JX001") is None  # the human answers now
    token, page, version = page_token(agent, path)
    assert "订单号 JX001" in page and "客服消息窗口开放至" in page
    agent.post(f"{path}/reply", data={"csrf_token": token, "text": "收到，马上为您查询"})
    sent = texts(sent_to(api, sim.openid, wait=10, count=2))
    assert sent == [
        "您好，我是客服小王，很高兴为您服务，请问有什么可以帮您？",
        "收到，马上为您查询",
    ]
    resolved = agent.post(f"{path}/resolve", data={"csrf_token": token, "version": version})
    assert resolved.headers["location"] == "/backoffice" and state_of(handoff_id)[0] == "resolved"
    assert "本次人工服务已结束" in texts(sent_to(api, sim.openid, wait=10, count=3))[-1]


def test_refusals_change_nothing(api: str, login: LogIn) -> None:
    _, handoff_id = queued_handoff(api)
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        handoff.store_id = "JX-HZ01"
    path = f"/backoffice/handoffs/{handoff_id}"
    outsider = login(make_staff(store="JX-HZ02", name="外店"))
    assert outsider.get(path).status_code == 403
    assert f'data-handoff="{handoff_id}"' not in outsider.get("/backoffice").text
    token, _, _ = page_token(outsider, "/backoffice")
    refused = outsider.post(f"{path}/take", data={"csrf_token": token, "version": 1})
    assert refused.status_code == 403 and "其他门店" in refused.text
    insider = login(make_staff(store="JX-HZ01", name="本店"))
    _, _, version = page_token(insider, path)
    forged = insider.post(f"{path}/take", data={"version": version})  # no csrf token
    assert forged.status_code == 403
    token, _, _ = page_token(insider, path)
    stale = insider.post(f"{path}/take", data={"csrf_token": token, "version": version + 5})
    assert stale.status_code == 409 and "页面已过期" in stale.text
    assert state_of(handoff_id) == ("queued", None)
    anonymous = httpx.post(f"{api}{path}/take", data={"version": version}, follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    assert state_of(handoff_id) == ("queued", None)


def test_queue_hears_customer_messages_live(api: str, login: LogIn) -> None:
    agent = login(make_staff(role="supervisor", name="陈主管"))
    heard: list[dict[str, object]] = []
    connected = threading.Event()

    def listen() -> None:
        with agent.stream("GET", "/backoffice/events", timeout=15) as stream:
            for line in stream.iter_lines():
                connected.set()
                if line.startswith("data:"):
                    heard.append(json.loads(line[5:]))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10)
    sim, _ = queued_handoff(api)
    listener.join(10)
    assert heard and heard[0]["kind"] == "queued"
    assert heard[0]["openid"] == sim.openid


def test_dashboard_for_supervisors_only(api: str, login: LogIn) -> None:
    boss = login(make_staff(role="supervisor", name="陈主管"))
    page = boss.get("/backoffice/dashboard?days=30")
    assert page.status_code == 200
    assert "自助解决率" in page.text and "转人工原因" in page.text and "<svg" in page.text
    agent = login(make_staff(name="小王"))
    assert agent.get("/backoffice/dashboard").status_code == 403
