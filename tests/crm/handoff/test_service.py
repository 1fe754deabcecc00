"""Handoff: queue, take, reply, transfer, resolve; stale pages and other stores refused."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations.models import Conversation, Message
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import record_inbound
from crm.customers.models import WechatIdentity
from crm.customers.service import touch_interaction
from crm.errors import Conflict, Forbidden
from crm.handoff import service as handoffs
from crm.handoff.models import Handoff
from crm.handoff.sweep import sweep
from crm.handoff.triggers import angry, asks_for_human
from crm.outbox.models import OutboxItem
from crm.staff.models import StaffUser

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in China: service hours
NIGHT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 in China: after hours


def conversation(db: Session, text: str = "我要找人工") -> Conversation:
    openid = "o" + secrets.token_hex(8)
    message = record_inbound(
        db,
        InboundMessage(
            appid="wx_test",
            channel="oa",
            openid=openid,
            msg_type="text",
            content=text,
            dedup_key=f"wx_test:{openid}:1",
        ),
    )
    touch_interaction(identity_of(db, message.conversation))
    db.flush()
    return message.conversation


def identity_of(db: Session, conv: Conversation) -> WechatIdentity:
    identity = db.get(WechatIdentity, conv.identity_id)
    assert identity is not None
    return identity


def staff(db: Session, name: str, role: str = "agent", store: str | None = None) -> handoffs.Actor:
    user = StaffUser(
        username=f"{name}-{secrets.token_hex(3)}",
        display_name=name,
        password_hash="x",
        role=role,
        store_id=store,
        active=True,
        failed_logins=0,
    )
    db.add(user)
    db.flush()
    return handoffs.Actor(user.id, name, role, store)


def outbound(db: Session, conv: Conversation) -> list[Message]:
    return list(
        db.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.direction == "out")
            .order_by(Message.id)
        )
    )


def test_queued_in_hours_with_place_and_wait_once(db: Session) -> None:
    conv = conversation(db)
    handoff, said = handoffs.open_handoff(db, conv, "asked", now=NOON)
    assert (handoff.state, handoff.left_message, conv.state) == ("queued", False, "queued")
    assert "正在为您转接人工客服" in said and "预计等待约" in said
    again, said_again = handoffs.open_handoff(db, conv, "asked", now=NOON)
    assert again.id == handoff.id and "已在人工客服的排队中" in said_again
    assert db.scalar(select(func.count(Handoff.id)).where(Handoff.conversation_id == conv.id)) == 1


def test_after_hours_leaves_a_message(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "handoff_hours", "08:30-21:00")
    assert handoffs.within_hours(NOON) and not handoffs.within_hours(NIGHT)
    conv = conversation(db)
    handoff, said = handoffs.open_handoff(db, conv, "complaint", now=NIGHT)
    assert handoff.left_message is True
    assert said.startswith("非常抱歉") and "休息时间（每天 08:30-21:00）" in said


def test_take_greets_customer_and_stale_page_changes_nothing(db: Session) -> None:
    conv = conversation(db)
    handoff, _ = handoffs.open_handoff(db, conv, "asked", now=NOON)
    seen = handoff.version
    wang, li = staff(db, "小王"), staff(db, "小李")
    handoffs.take(db, handoff.id, wang, seen)
    assert (handoff.state, handoff.agent_id, conv.state) == ("assigned", wang.id, "assigned")
    greeting = outbound(db, conv)[-1]
    assert greeting.staff_id == wang.id and "客服小王" in greeting.content
    assert db.scalar(select(OutboxItem).where(OutboxItem.message_id == greeting.id)) is not None
    with pytest.raises(Conflict, match="页面已过期"):
        handoffs.take(db, handoff.id, li, seen)  # Li's tab still shows it waiting
    assert handoff.agent_id == wang.id


def test_other_store_agent_cannot_see_or_act(db: Session) -> None:
    conv = conversation(db)
    handoff, _ = handoffs.open_handoff(db, conv, "asked", now=NOON)
    handoff.store_id = "S01"
    outsider, insider = staff(db, "外店", store="S02"), staff(db, "本店", store="S01")
    with pytest.raises(Forbidden):
        handoffs.take(db, handoff.id, outsider, handoff.version)
    assert handoff.state == "queued"
    handoffs.take(db, handoff.id, insider, handoff.version)
    assert handoff.agent_id == insider.id


def test_reply_only_by_the_assigned_agent_and_inside_the_window(db: Session) -> None:
    conv = conversation(db)
    handoff, _ = handoffs.open_handoff(db, conv, "asked", now=NOON)
    wang, boss = staff(db, "小王"), staff(db, "陈主管", role="supervisor")
    handoffs.take(db, handoff.id, wang, handoff.version)
    message = handoffs.reply(db, handoff.id, wang, "  您好，请发一下订单号  ")
    assert message.content == "您好，请发一下订单号" and message.delivery == "custom"
    with pytest.raises(Forbidden):
        handoffs.reply(db, handoff.id, boss, "我来说")
    identity_of(db, conv).last_interaction_at = datetime.now(UTC) - timedelta(days=3)
    db.flush()
    with pytest.raises(Conflict, match="48 小时"):
        handoffs.reply(db, handoff.id, wang, "还在吗")


def test_transfer_and_resolve_back_to_the_bot(db: Session) -> None:
    conv = conversation(db)
    handoff, _ = handoffs.open_handoff(db, conv, "asked", now=NOON)
    wang, li = staff(db, "小王"), staff(db, "小李")
    handoffs.take(db, handoff.id, wang, handoff.version)
    handoffs.transfer(db, handoff.id, wang, handoff.version, li)
    assert handoff.agent_id == li.id
    with pytest.raises(Forbidden):
        handoffs.resolve(db, handoff.id, wang, handoff.version)
    handoffs.resolve(db, handoff.id, li, handoff.version)
    assert (handoff.state, handoff.resolution, conv.state) == ("resolved", "agent", "bot")
    assert conv.bot_paused is True  # the runtime resumes Rasa before the bot's next turn
    assert "本次人工服务已结束" in outbound(db, conv)[-1].content


def test_customer_cancels_while_queued_not_once_assigned(db: Session) -> None:
    conv = conversation(db)
    handoffs.open_handoff(db, conv, "asked", now=NOON)
    assert "已取消转人工" in (handoffs.cancel_by_customer(db, conv) or "")
    assert conv.state == "bot"
    handoff, _ = handoffs.open_handoff(db, conv, "asked", now=NOON)
    handoffs.take(db, handoff.id, staff(db, "小王"), handoff.version)
    assert handoffs.cancel_by_customer(db, conv) is None and conv.state == "assigned"


def test_sweep_offers_a_message_then_returns_idle_conversations(db: Session) -> None:
    waiting = conversation(db)
    queued, _ = handoffs.open_handoff(db, waiting, "asked", now=NOON)
    queued.queued_at = datetime.now(UTC) - timedelta(minutes=11)
    talking = conversation(db)
    assigned, _ = handoffs.open_handoff(db, talking, "asked", now=NOON)
    handoffs.take(db, assigned.id, staff(db, "小王"), assigned.version)
    talking.last_message_at = datetime.now(UTC) - timedelta(minutes=31)
    db.flush()
    report = sweep(db)
    assert queued.id in report.offered_message and queued.left_message is True
    assert "客服们都在忙" in outbound(db, waiting)[-1].content
    assert assigned.id in report.back_to_bot
    assert (assigned.state, assigned.resolution, talking.state) == ("resolved", "idle", "bot")
    assert queued.state == "queued"  # still waiting for an agent: only 11 minutes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你们就是骗子", True),
        ("什么破电钻，垃圾！！", True),
        ("太差了 退钱", True),
        ("电钻的电池烂了能修吗", False),
        ("这个角磨机不差吧", False),
        ("你好，电池保修多久", False),
    ],
)
def test_anger_lexicon(text: str, expected: bool) -> None:
    assert angry(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("我要转人工，电钻保修的问题", True), ("人工客服在吗", True), ("人工智能电钻有吗", False)],
)
def test_plain_requests_for_a_person(text: str, expected: bool) -> None:
    assert asks_for_human(text) is expected
