"""Handing a conversation to a human and back: queue, take, transfer, reply, resolve."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations import service as conversations
from crm.conversations.models import Conversation, Message
from crm.customers.models import WechatIdentity
from crm.customers.panel import home_store_of
from crm.customers.service import service_window_closes
from crm.db import SHANGHAI, utcnow
from crm.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm.handoff import replies
from crm.handoff.models import REASONS, Handoff
from crm.staff.service import SUPERVISORS, can_see_store

OPEN = ("queued", "assigned")
DEFAULT_WAIT = timedelta(minutes=2)
MAX_REPLY_CHARS = 2000


@dataclass(frozen=True)
class Actor:
    """The staff member acting (from their session): who, in what role, for which store."""

    id: int
    name: str
    role: str
    store_id: str | None


def within_hours(now: datetime | None = None) -> bool:
    """True during the hours agents answer live (settings.handoff_hours, China time)."""
    start, end = (_clock(t) for t in get_settings().handoff_hours.split("-"))
    local = (now or utcnow()).astimezone(SHANGHAI).time()
    return start <= local <= end if end == time.max else start <= local < end


def _clock(value: str) -> time:
    """«08:30» as a time; «24:00» as the end of the day."""
    return time.max if value == "24:00" else time.fromisoformat(value)


def current(session: Session, conversation_id: int) -> Handoff | None:
    """The conversation's open handoff (queued or assigned), if any."""
    return session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.state.in_(OPEN))
        .order_by(Handoff.id.desc())
        .limit(1)
    ).first()


def open_handoff(
    session: Session, conversation: Conversation, reason: str, now: datetime | None = None
) -> tuple[Handoff, str]:
    """Queue the conversation for a human; the handoff and what to tell the customer."""
    if reason not in REASONS:
        raise InvalidInput(f"unknown handoff reason {reason!r}")
    existing = current(session, conversation.id)
    if existing is not None:
        conversation.state = existing.state
        return existing, replies.already_waiting(existing.state)
    now = now or utcnow()
    live = within_hours(now)
    handoff = Handoff(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        reason=reason,
        state="queued",
        store_id=home_store_of(session, conversation.customer_id),
        left_message=not live,
        queued_at=now,
    )
    session.add(handoff)
    conversation.state = "queued"
    conversation.bot_paused = True
    session.flush()
    if not live:
        return handoff, replies.after_hours(reason, get_settings().handoff_hours)
    ahead = session.scalar(
        select(func.count(Handoff.id)).where(
            Handoff.state == "queued", Handoff.left_message.is_(False), Handoff.id < handoff.id
        )
    )
    wait = expected_wait(session) * ((ahead or 0) + 1)
    return handoff, replies.queued(reason, ahead or 0, max(1, math.ceil(wait.seconds / 60)))


def expected_wait(session: Session) -> timedelta:
    """The median queue wait of the last 20 handoffs an agent took (2 minutes with none)."""
    rows = session.execute(
        select(Handoff.queued_at, Handoff.assigned_at)
        .where(Handoff.assigned_at.is_not(None), Handoff.left_message.is_(False))
        .order_by(Handoff.assigned_at.desc())
        .limit(20)
    ).all()
    waits = [(assigned - queued).total_seconds() for queued, assigned in rows if assigned]
    return timedelta(seconds=statistics.median(waits)) if waits else DEFAULT_WAIT


def cancel_by_customer(session: Session, conversation: Conversation) -> str | None:
    """The customer went back to the bot while queued; None when an agent already has them."""
    handoff = current(session, conversation.id)
    if handoff is not None and handoff.state == "assigned":
        return None
    if handoff is not None:
        close(handoff, "customer")
    conversation.state = "bot"
    session.flush()
    return replies.cancelled()


def get(session: Session, handoff_id: int, actor: Actor, lock: bool = False) -> Handoff:
    """A handoff the actor may see (locked for update when `lock`)."""
    stmt = select(Handoff).where(Handoff.id == handoff_id)
    handoff = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if handoff is None:
        raise NotFound(f"会话 {handoff_id} 不存在")
    if not can_see_store(actor, handoff.store_id):
        raise Forbidden("这位客户属于其他门店，您无权查看或处理")
    return handoff


def _changing(session: Session, handoff_id: int, actor: Actor, seen_version: int) -> Handoff:
    handoff = get(session, handoff_id, actor, lock=True)
    if handoff.version != seen_version:
        raise Conflict("这个会话刚刚已被其他人处理过，您看到的页面已过期，请刷新后再操作")
    handoff.version += 1
    return handoff


def take(session: Session, handoff_id: int, actor: Actor, seen_version: int) -> Handoff:
    """The actor takes a queued conversation; the customer is greeted by name."""
    handoff = _changing(session, handoff_id, actor, seen_version)
    if handoff.state != "queued":
        raise Conflict("这个会话已不在排队中，请刷新")
    handoff.state, handoff.agent_id, handoff.assigned_at = "assigned", actor.id, utcnow()
    handoff.conversation.state = "assigned"
    send_if_open(session, handoff, replies.agent_joined(actor.name), actor.id)
    return handoff


def transfer(
    session: Session, handoff_id: int, actor: Actor, seen_version: int, to: Actor | None
) -> Handoff:
    """Hand an assigned conversation to another agent, or back to the queue (`to` None)."""
    handoff = _changing(session, handoff_id, actor, seen_version)
    check_owner(handoff, actor)
    if to is None:
        handoff.state, handoff.agent_id, handoff.assigned_at = "queued", None, None
        handoff.conversation.state = "queued"
    else:
        if not can_see_store(to, handoff.store_id):
            raise Forbidden(f"{to.name} 不属于这位客户的门店，不能转给 TA")
        handoff.agent_id = to.id
    session.flush()
    return handoff


def reply(session: Session, handoff_id: int, actor: Actor, text: str) -> Message:
    """The assigned agent's reply, queued for the customer-service API."""
    handoff = get(session, handoff_id, actor, lock=True)
    check_owner(handoff, actor, strict=True)
    text = text.strip()
    if not text or len(text) > MAX_REPLY_CHARS:
        raise InvalidInput(f"回复不能为空，也不能超过 {MAX_REPLY_CHARS} 字")
    message = send_if_open(session, handoff, text, actor.id)
    if message is None:
        raise Conflict("客户最后一次发消息已超过 48 小时，客服消息发不出去；请改用服务通知")
    return message


def resolve(session: Session, handoff_id: int, actor: Actor, seen_version: int) -> Handoff:
    """The agent is done: the conversation goes back to the bot."""
    handoff = _changing(session, handoff_id, actor, seen_version)
    if handoff.state == "assigned":
        check_owner(handoff, actor)
    elif actor.role not in SUPERVISORS and not handoff.left_message:
        raise Conflict("请先接入这个会话，再结束它")
    send_if_open(session, handoff, replies.resolved(), actor.id)
    close(handoff, "agent")
    session.flush()
    return handoff


def window_closes(session: Session, handoff: Handoff) -> datetime | None:
    """When customer-service messages stop reaching this customer (48 h after they wrote)."""
    identity = session.get(WechatIdentity, handoff.conversation.identity_id)
    return service_window_closes(identity) if identity is not None else None


def window_open(session: Session, handoff: Handoff) -> bool:
    """True while a customer-service message reaches this customer."""
    closes = window_closes(session, handoff)
    return closes is not None and utcnow() < closes


def check_owner(handoff: Handoff, actor: Actor, strict: bool = False) -> None:
    if handoff.state != "assigned":
        raise Conflict("这个会话还没有客服接入")
    if handoff.agent_id != actor.id and (strict or actor.role not in SUPERVISORS):
        raise Forbidden("这个会话由其他客服接待；需要的话请先转给自己")


def close(handoff: Handoff, resolution: str) -> None:
    handoff.state, handoff.resolution, handoff.resolved_at = "resolved", resolution, utcnow()
    if handoff.conversation.state in OPEN:
        handoff.conversation.state = "bot"


def send_if_open(
    session: Session, handoff: Handoff, text: str, staff_id: int | None
) -> Message | None:
    """Send `text` through the customer-service API when the 48-hour window allows."""
    if not window_open(session, handoff):
        return None
    reply_to = conversations.latest_in_conversation(session, handoff.conversation_id)
    if reply_to is None:
        return None
    identity = session.get(WechatIdentity, handoff.conversation.identity_id)
    assert identity is not None
    message = conversations.reply_through_api(session, reply_to, text, identity)
    message.staff_id = staff_id
    handoff.conversation.last_message_at = utcnow()
    session.flush()
    return message
