"""Storing conversations and messages: inbound first, always; outbound with its delivery state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation, Message
from crm.conversations.schemas import InboundMessage
from crm.customers.models import WechatIdentity
from crm.customers.service import identity_seen
from crm.db import recent, utcnow
from crm.errors import Conflict
from crm.outbox import service as outbox

# An inbound message the bot still owes an answer: "pending" (being asked, or never asked:
# its process died), "retry" (Rasa could not be reached).
AWAITING_BOT = ("pending", "retry")


class DuplicateDelivery(Conflict):
    """WeChat delivered a push we have already stored."""


@dataclass(frozen=True)
class Received:
    """A stored inbound message as replies to it need it: kept since it was stored, so
    storing them loads nothing again."""

    id: int
    conversation_id: int
    identity_id: int


def get_or_create_conversation(
    session: Session, identity: WechatIdentity, channel: str, now: datetime | None = None
) -> Conversation:
    """The conversation of this identity, opened on first contact (its last message `now`)."""
    conversation = session.scalars(
        select(Conversation).where(Conversation.identity_id == identity.id)
    ).one_or_none()
    if conversation is None:
        conversation = Conversation(
            customer_id=identity.customer_id,
            identity_id=identity.id,
            channel=channel,
            last_message_at=now or utcnow(),
        )
        session.add(conversation)
        session.flush()
    return conversation


def open_conversation(
    session: Session, inbound: InboundMessage
) -> tuple[WechatIdentity, Conversation]:
    """The sender's identity and conversation for a message arriving now (both opened on first
    contact): a known sender costs one SELECT. Their timestamps (seen, last message; to the
    minute) are written by the session's next flush, one UPDATE each when a minute old."""
    now = utcnow()
    found = session.execute(
        select(WechatIdentity, Conversation)
        .outerjoin(Conversation, Conversation.identity_id == WechatIdentity.id)
        .where(WechatIdentity.appid == inbound.appid, WechatIdentity.openid == inbound.openid)
    ).first()
    known, conversation = found or (None, None)
    with session.no_autoflush:
        identity = identity_seen(
            session, known, inbound.appid, inbound.openid, inbound.unionid, now
        )
        if conversation is None:
            conversation = get_or_create_conversation(session, identity, inbound.channel, now)
    if not recent(conversation.last_message_at, now):  # a new conversation's is now
        conversation.last_message_at = now
    return identity, conversation


def add_inbound(
    session: Session, conversation: Conversation, inbound: InboundMessage, status: str | None
) -> int:
    """Store an inbound message in its conversation, with its `status` for the bot, in one
    INSERT … ON CONFLICT DO NOTHING RETURNING id (a Core statement: no ORM object is built on
    the callback's path); the new message's id. A second delivery of the same push raises
    DuplicateDelivery."""
    values = {
        "conversation_id": conversation.id,
        "direction": "in",
        "msg_type": inbound.msg_type,
        "content": inbound.content,
        "wechat_msg_id": inbound.wechat_msg_id,
        "dedup_key": inbound.dedup_key,
        "raw": inbound.raw,
        "media_id": inbound.media_id,
        "media_url": inbound.media_url,
        "status": status,
        "created_at": utcnow(),
    }
    message_id = _insert_once(session, values)
    if message_id is None:
        raise DuplicateDelivery(f"push {inbound.dedup_key} was already received")
    return message_id


def record_inbound(session: Session, inbound: InboundMessage, status: str | None = None) -> Message:
    """Store an inbound message; a second delivery of the same push raises DuplicateDelivery."""
    _, conversation = open_conversation(session, inbound)
    message = session.get(Message, add_inbound(session, conversation, inbound, status))
    assert message is not None
    return message


def _insert_once(session: Session, values: dict[str, Any]) -> int | None:
    """Insert the message unless its delivery key is already stored; its id, or None."""
    table = cast(Table, Message.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        upsert = postgresql_insert(table).values(**values)
        stmt = upsert.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id)
    elif dialect == "sqlite":
        lite = sqlite_insert(table).values(**values)
        stmt = lite.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id)
    else:  # another database: a savepoint catches the duplicate
        message = Message(**values)
        try:
            with session.begin_nested():
                session.add(message)
                session.flush()
        except IntegrityError:
            return None
        return message.id
    found = session.execute(stmt).scalar_one_or_none()
    return int(found) if found is not None else None


def record_outbound(
    session: Session, reply_to: Message | Received, content: str, delivery: str, status: str
) -> Message:
    """Store a reply to `reply_to`, with how it is delivered and whether it went out."""
    message = Message(
        conversation_id=reply_to.conversation_id,
        direction="out",
        msg_type="text",
        content=content,
        delivery=delivery,
        status=status,
        reply_to_id=reply_to.id,
    )
    session.add(message)
    session.flush()
    return message


def reply_through_api(
    session: Session, reply_to: Message | Received, text: str, identity: WechatIdentity
) -> Message:
    """Store a reply and queue it for the customer-service API to `identity` (whose
    conversation `reply_to` is in), in one unit of work."""
    message = record_outbound(session, reply_to, text, "custom", "pending")
    outbox.enqueue(
        session,
        appid=identity.appid,
        openid=identity.openid,
        kind="custom",
        payload={"touser": identity.openid, "msgtype": "text", "text": {"content": text}},
        message_id=message.id,
    )
    return message


def list_messages(session: Session, conversation_id: int) -> list[Message]:
    """The whole transcript of a conversation, oldest first."""
    stmt = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    return list(session.scalars(stmt))


def latest_inbound(session: Session, customer_id: int, msg_type: str) -> Message | None:
    """The customer's most recent inbound message of a type (e.g. the invoice photo just sent)."""
    return session.scalars(
        select(Message)
        .join(Message.conversation)
        .where(
            Conversation.customer_id == customer_id,
            Message.direction == "in",
            Message.msg_type == msg_type,
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()


def latest_in_conversation(session: Session, conversation_id: int) -> Message | None:
    """The conversation's most recent inbound message (what an agent's reply answers)."""
    return session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    ).first()


def conversation_of(session: Session, appid: str, openid: str) -> Conversation | None:
    """The conversation of a WeChat user, if they ever wrote."""
    return session.scalars(
        select(Conversation)
        .join(WechatIdentity, Conversation.identity_id == WechatIdentity.id)
        .where(WechatIdentity.appid == appid, WechatIdentity.openid == openid)
    ).one_or_none()


def awaiting_bot(
    session: Session, appids: list[str], stale_before: datetime, limit: int = 200
) -> list[tuple[Message, Conversation, WechatIdentity]]:
    """Inbound messages the bot still owes an answer, oldest first: every "retry", and
    "pending" ones stored before `stale_before` (no process can still be asking about them)."""
    rows = session.execute(
        select(Message, Conversation, WechatIdentity)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .join(WechatIdentity, Conversation.identity_id == WechatIdentity.id)
        .where(
            Message.direction == "in",
            WechatIdentity.appid.in_(appids),
            or_(
                Message.status == "retry",
                (Message.status == "pending") & (Message.created_at < stale_before),
            ),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [(m, c, i) for m, c, i in rows]


def settle(session: Session, message_id: int, status: str) -> None:
    """Set what became of a message the bot owed an answer (unless already settled), in one
    UPDATE."""
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(AWAITING_BOT))
        .values(status=status)
    )


def owed_in(session: Session, conversation_id: int) -> list[Message]:
    """The conversation's inbound messages the bot still owes an answer."""
    return list(
        session.scalars(
            select(Message).where(
                Message.conversation_id == conversation_id,
                Message.direction == "in",
                Message.status.in_(AWAITING_BOT),
            )
        )
    )
