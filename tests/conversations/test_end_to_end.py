"""A signed WeChat message goes in, the real Rasa model decides, the knowledge base answers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot import replies
from bot.stack import Stack
from crm.conversations.models import Message
from crm.db import session_scope
from crm.knowledge.models import Faq
from tests.api.conftest import sent_to, texts
from tests.conversations.conftest import simulator
from tests.servers import serve_api

pytestmark = pytest.mark.e2e
DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain/core.yml").read_text())


def faq_answer(faq_id: str) -> str:
    with session_scope() as session:
        faq = session.get(Faq, faq_id)
        assert faq is not None
        return faq.answer


def transcript(openid: str) -> list[Message]:
    with session_scope() as session:
        first = session.scalars(select(Message).where(Message.raw.contains(openid))).first()
        assert first is not None, "inbound message was not stored"
        stmt = select(Message).where(Message.conversation_id == first.conversation_id)
        return list(session.scalars(stmt.order_by(Message.id)))


def test_battery_warranty_in_safe_mode(api_url: str) -> None:
    sim = simulator(api_url)
    assert sim.say("电池保修多久") == faq_answer("faq-017")
    messages = transcript(sim.openid)
    assert [(m.direction, m.content) for m in messages] == [
        ("in", "电池保修多久"),
        ("out", faq_answer("faq-017")),
    ]
    assert (messages[1].delivery, messages[1].status) == ("passive", "sent")


def test_greeting_in_plaintext_mode(api_url: str) -> None:
    sim = simulator(api_url, safe_mode=False)
    assert sim.say("你好") == DOMAIN["responses"]["utter_greet"][0]["text"]


def test_slow_rasa_answers_through_customer_service_api(rasa_stack: Stack) -> None:
    with serve_api(
        rasa_url=rasa_stack.rasa_url,
        action_server_url=rasa_stack.actions_url,
        reply_budget_seconds=0.001,
    ) as url:
        sim = simulator(url)
        assert sim.say("电池保修多久") == replies.HOLDING  # at once; the answer comes later
        assert texts(sent_to(url, sim.openid, wait=60)) == [faq_answer("faq-017")]
        typing = sent_to(url, sim.openid, kind="typing")
        assert [t["command"] for t in typing] == ["Typing"]
    # The holding reply is kept in the transcript with the answer (stored together).
    messages = transcript(sim.openid)
    said = [(m.direction, m.delivery, m.status, m.content) for m in messages]
    assert said[-2:] == [
        ("out", "passive", "sent", replies.HOLDING),
        ("out", "custom", "sent", faq_answer("faq-017")),
    ]
    assert messages[-3].status == "answered"


def test_rasa_down_gets_holding_reply_and_message_is_kept(rasa_stack: Stack) -> None:
    with serve_api(rasa_url="http://127.0.0.1:9", action_server_url=rasa_stack.actions_url) as url:
        sim = simulator(url)
        assert sim.say("电池保修多久") == replies.BUSY
        assert httpx.get(f"{url}/healthz").status_code == 503
    assert transcript(sim.openid)[0].content == "电池保修多久"


def test_concurrent_redeliveries_are_answered_once(api_url: str) -> None:
    sim = simulator(api_url)
    xml = sim.text_xml("退货要多少天内")
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: sim.post(xml), range(3)))
    assert all(r.status_code == 200 for r in responses)
    answered = [r for r in responses if r.text != "success"]
    assert len(answered) == 1
    assert [m.direction for m in transcript(sim.openid)] == ["in", "out"]


def test_healthz_is_ready(api_url: str) -> None:
    response = httpx.get(f"{api_url}/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "rasa": True, "actions": True}
