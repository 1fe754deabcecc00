"""The customer's rights end to end with the trained model: 「查询我的个人信息」 shows what we hold,
「导出我的信息」 files a request, 「删除我的信息」 asks first and, confirmed, erases the member;
their next message starts as a new customer, with Rasa's memory of them emptied too."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time

import httpx
import pytest
from sqlalchemy import select

from bot.stack import Stack
from crm.config import get_settings
from crm.customers.models import Customer, WechatIdentity
from crm.db import session_scope
from crm.jobs.daily import run_daily
from crm.points import service as points
from crm.privacy import cooling_off
from crm.privacy.models import DataRequest
from tests.api.conftest import identity_of
from tests.conversations.conftest import Chat

pytestmark = pytest.mark.e2e


def _make_member(openid: str) -> tuple[int, str]:
    """The chatting customer becomes a member with a phone, a name and 300 points."""
    phone = f"137{secrets.randbelow(10**8):08d}"
    with session_scope() as session:
        customer = session.get(Customer, identity_of(openid).customer_id)
        assert customer is not None
        customer.phone, customer.display_name = phone, "端到端测试"
        points.adjust(session, customer.id, 300, "测试", "tester", f"e2e-{secrets.token_hex(4)}")
        return customer.id, phone


def _tracker_text(rasa_url: str, openid: str) -> str:
    sender = f"{get_settings().wechat_oa_appid}:{openid}"
    return httpx.get(f"{rasa_url}/conversations/{sender}/tracker", timeout=10).text


def _stored_mentions(openid: str, text: str) -> int:
    """Rows of the embedded tracker store (SQLite) of this sender that hold `text`."""
    sender = f"{get_settings().wechat_oa_appid}:{openid}"
    with sqlite3.connect(get_settings().rasa_tracker_db) as conn:
        rows = conn.execute("SELECT data FROM events WHERE sender_id = ?", (sender,)).fetchall()
    escaped = json.dumps(text)[1:-1]
    return sum(1 for (data,) in rows if text in data or escaped in data)


def test_see_then_erase_with_confirmation_then_start_afresh(
    api_url: str, rasa_stack: Stack
) -> None:
    chat = Chat(api_url)
    assert chat.say("你好")
    customer_id, phone = _make_member(chat.sim.openid)
    held = chat.say("查询我的个人信息")
    assert f"{phone[:3]}****{phone[-4:]}" in held and "积分余额：300" in held
    assert "导出我的信息" in held and phone not in held
    assert "导出申请" in chat.say("我想要一份我的完整个人数据，导出给我")
    asked = chat.say("帮我把我的个人信息都删掉")
    assert "300 积分作废" in asked and "确认删除" in asked
    assert "已取消删除" in chat.say("取消")
    assert "确认删除" in chat.say("注销")
    assert "冷静期" in chat.say("确认删除")  # filed: erased when the 7-day cooling-off ends
    assert "已撤销" in chat.say("撤销注销")
    assert "确认删除" in chat.say("删除我的信息")
    filed = chat.say("确认删除")
    with session_scope() as session:
        request = cooling_off.pending(session, customer_id)
        assert request is not None
        day = cooling_off.erases_on(request)
    assert f"{day.month} 月 {day.day} 日" in filed
    assert run_daily(day).erasures_done >= 1
    with session_scope() as session:
        old = session.get(Customer, customer_id)
        assert old is not None and old.phone is None and old.display_name is None
        left = session.scalars(
            select(WechatIdentity).where(WechatIdentity.openid == chat.sim.openid)
        )
        assert list(left) == []
        statuses = session.scalars(
            select(DataRequest.status).where(DataRequest.customer_id == customer_id)
        )
        # the export died with the data; the first erasure was withdrawn
        assert sorted(statuses) == ["cancelled", "cancelled", "done"]
    deadline = time.monotonic() + 15
    while "查询我的个人信息" in _tracker_text(rasa_stack.rasa_url, chat.sim.openid):
        assert time.monotonic() < deadline, "Rasa still remembers the erased conversation"
        time.sleep(0.3)
    assert _stored_mentions(chat.sim.openid, "查询我的个人信息") == 0  # not even on disk
    fresh = chat.say("查询我的个人信息")
    assert "手机号：未绑定" in fresh and "1 个会话" in fresh
    assert identity_of(chat.sim.openid).customer_id != customer_id
