"""Storing conversations and messages: inbound first, always; outbound with its delivery state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation, Message
from crm.conversations.schemas import InboundMessage
from crm.customers.models import WechatIdentity
from crm.customers.service import resolve_identity
from crm.db import utcnow
from crm.errors import Conflict, NotFound
from crm.outbox import service as outbox

# An inbound message the bot still owes an answer: "pending" (being asked, or never asked:
# its process died), "retry" (Rasa could not be reached).
AWAITING_BOT = ("pending", "retry")


class DuplicateDelivery(Conflict):
    """WeChat delivered a push we have already stored."""


def get_or_create_conversation(
    session: Session, identity: WechatIdentity, channel: str
) -> Conversation:
    """The conversation of this identity, opened on first contact."""
    conversation = session.scalars(
        select(Conversation).where(Conversation.identity_id == identity.id)
    ).one_or_none()
    if conversation is None:
        conversation = Conversation(
            customer_id=identity.customer_id, identity_id=identity.id, channel=channel
        )
        session.add(conversation)
        session.flush()
    return conversation


def record_inbound(session: Session, inbound: InboundMessage) -> Message:
    """Store an inbound message; a second delivery of the same push raises DuplicateDelivery.

    The hot path of every push: the identity's and conversation's timestamps stay pending until
    the caller's next flush (one UPDATE each with what it changes), and the message goes in with
    one INSERT … ON CONFLICT DO NOTHING RETURNING instead of a savepoint around it.
    """
    identity = resolve_identity(session, inbound.appid, inbound.openid, inbound.unionid)
    with session.no_autoflush:
        conversation = get_or_create_conversation(session, identity, inbound.channel)
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
            "created_at": utcnow(),
        }
        message = _insert_once(session, values)
    if message is None:
        raise DuplicateDelivery(f"push {inbound.dedup_key} was already received")
    conversation.last_message_at = utcnow()
    return message


def _insert_once(session: Session, values: dict[str, Any]) -> Message | None:
    """Insert the message unless its delivery key is already stored (then None)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        upsert = postgresql_insert(Message).values(**values)
        stmt = upsert.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(Message)
    elif dialect == "sqlite":
        lite = sqlite_insert(Message).values(**values)
        stmt = lite.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(Message)
    else:  # another database: a savepoint catches the duplicate
        message = Message(**values)
        try:
            with session.begin_nested():
                session.add(message)
                session.flush()
        except IntegrityError:
            return None
        return message
    return session.scalars(stmt).first()


def record_outbound(
    session: Session, reply_to: Message, content: str, delivery: str, status: str
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


def reply_through_api(session: Session, reply_to: Message, text: str, appid: str) -> Message:
    """Store a reply and queue it for the customer-service API, in one unit of work."""
    message = record_outbound(session, reply_to, text, "custom", "pending")
    identity = session.get(WechatIdentity, reply_to.conversation.identity_id)
    if identity is None:
        raise NotFound(f"identity of conversation {reply_to.conversation_id} is gone")
    outbox.enqueue(
        session,
        appid=appid,
        openid=identity.openid,
        kind="custom",
        payload={"touser": identity.openid, "msgtype": "text", "text": {"content": text}},
        message_id=message.id,
    )
    return message


def get_message(session: Session, message_id: int) -> Message:
    """A message by id."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} does not exist")
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
    """Set what became of a message the bot owed an answer (unless already settled)."""
    message = get_message(session, message_id)
    if message.status in AWAITING_BOT:
        message.status = status


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
