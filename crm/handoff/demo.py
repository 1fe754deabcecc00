"""A week of demo conversations for the embedded default, so the queue and the dashboard show
something: questions the bot answered, a few it could not, and handoffs in every state."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations import service as conversations
from crm.conversations.models import Message
from crm.customers.models import Customer, WechatIdentity
from crm.customers.service import resolve_identity
from crm.db import utcnow
from crm.handoff.models import Handoff
from crm.handoff.service import open_handoff
from crm.knowledge.service import get_faq
from crm.knowledge.unanswered import not_understood_texts
from crm.staff.models import StaffUser

SEED = 20261123
OPENID_PREFIX = "o_demo_chat_"
# (what the customer asked, the FAQ that answered it)
ANSWERED = [
    ("电池保修多久", "faq-017"),
    ("维修进度在哪里看", "faq-027"),
    ("电池充满要多长时间", "faq-008"),
    ("小票丢了还能保修吗", "faq-015"),
    ("退货运费谁出", "faq-037"),
]
NOT_UNDERSTOOD = ["你们卖不卖自行车", "明天会下雨吗", "能帮我写个作文吗", "你们卖不卖自行车"]
# (first words, reason, minutes waited before an agent took it or None, resolved?)
HANDOFFS = [
    ("转人工", "asked", 1.5, True),
    ("我要投诉你们门店的店员", "complaint", 6.0, True),
    ("人工客服", "asked", 3.0, True),
    ("什么破电钻 垃圾！！", "anger", 2.0, False),
    ("叫你们经理来", "asked", None, False),
]


@dataclass(frozen=True)
class DemoChats:
    """How many demo conversations this run created."""

    conversations: int
    handoffs: int


def seed_demo_conversations(
    session: Session, now: datetime | None = None, prefix: str = OPENID_PREFIX
) -> DemoChats:
    """Create the demo week once (nothing when its first customer, `prefix`000, exists)."""
    appid = get_settings().wechat_oa_appid
    if session.scalars(
        select(WechatIdentity.id).where(WechatIdentity.openid.startswith(prefix))
    ).first():
        return DemoChats(0, 0)
    rng = random.Random(SEED)
    now = now or utcnow()
    openids = (f"{prefix}{n:03d}" for n in itertools.count())
    fallback = sorted(not_understood_texts())[0]
    for question, faq_id in ANSWERED * 4:
        answer = get_faq(session, faq_id).answer
        _exchange(session, appid, next(openids), question, answer, _when(rng, now))
    for question in NOT_UNDERSTOOD:
        _exchange(session, appid, next(openids), question, fallback, _when(rng, now))
    members = list(session.scalars(select(Customer).where(Customer.phone.is_not(None)).limit(12)))
    supervisor = session.scalars(select(StaffUser).where(StaffUser.role == "supervisor")).first()
    for n, (first, reason, waited, resolved) in enumerate(HANDOFFS):
        when = now - timedelta(minutes=5) if waited is None else _when(rng, now)
        message = _exchange(session, appid, next(openids), first, None, when)
        if members:
            _belongs_to(session, message, members[n % len(members)])
        handoff, said = open_handoff(session, message.conversation, reason, now=when)
        handoff.queued_at = when
        conversations.record_outbound(session, message, said, "passive", "sent").created_at = when
        if waited is not None and supervisor is not None:
            _taken(handoff, supervisor, timedelta(minutes=waited), resolved)
    session.flush()
    return DemoChats(len(ANSWERED) * 4 + len(NOT_UNDERSTOOD) + len(HANDOFFS), len(HANDOFFS))


def _taken(handoff: Handoff, agent: StaffUser, waited: timedelta, resolved: bool) -> None:
    """An agent took the handoff after `waited`, and resolved it 8 minutes later if `resolved`."""
    handoff.state, handoff.agent_id = "assigned", agent.id
    handoff.assigned_at = handoff.queued_at + waited
    handoff.conversation.state = "assigned"
    if resolved:
        handoff.state, handoff.resolution = "resolved", "agent"
        handoff.resolved_at = handoff.assigned_at + timedelta(minutes=8)
        handoff.conversation.state = "bot"


def _when(rng: random.Random, now: datetime) -> datetime:
    """A moment of the past week."""
    return now - timedelta(minutes=rng.randrange(30, 7 * 24 * 60))


def _exchange(
    session: Session, appid: str, openid: str, text: str, answer: str | None, at: datetime
) -> Message:
    identity = resolve_identity(session, appid, openid)
    conversation = conversations.get_or_create_conversation(session, identity, "oa")
    message = Message(
        conversation_id=conversation.id,
        direction="in",
        msg_type="text",
        content=text,
        dedup_key=f"demo:{openid}",
        created_at=at,
    )
    session.add(message)
    session.flush()
    if answer is not None:
        reply = conversations.record_outbound(session, message, answer, "passive", "sent")
        reply.created_at = at
    conversation.last_message_at = at
    return message


def _belongs_to(session: Session, message: Message, member: Customer) -> None:
    """Hand the demo conversation to a member, so the customer panel has something to show."""
    conversation = message.conversation
    identity = session.get(WechatIdentity, conversation.identity_id)
    assert identity is not None
    identity.customer_id = member.id
    conversation.customer_id = member.id
    session.flush()
