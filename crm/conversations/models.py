"""A conversation is a customer's thread on one channel; every message in it is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, utcnow


class Conversation(TimestampMixin, Base):
    """One customer on one WeChat channel (official account or mini-program)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("wechat_identities.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(8))  # "oa" | "mp"
    # Who answers: "bot", or a human ("queued" for one, "assigned" to one; see crm/handoff).
    state: Mapped[str] = mapped_column(String(16), default="bot")
    # Rasa's tracker may be paused by a handoff: resume it before the bot's next turn.
    bot_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(TimestampMixin, Base):
    """One inbound or outbound message, stored before anything else happens to it."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    msg_type: Mapped[str] = mapped_column(String(32))  # text, image, event, ...
    content: Mapped[str] = mapped_column(Text, default="")
    # WeChat's MsgId is a 64-bit integer: kept exactly.
    wechat_msg_id: Mapped[int | None] = mapped_column(BigInteger)
    # The delivery key of an inbound push; unique so a retry can never be stored twice.
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    raw: Mapped[str | None] = mapped_column(Text)
    # Images, voice and video: WeChat's media id and picture URL (ticket evidence later).
    media_id: Mapped[str | None] = mapped_column(String(200))
    media_url: Mapped[str | None] = mapped_column(Text)
    # Outbound: "passive" (the callback's reply) or "custom" (customer-service API).
    delivery: Mapped[str | None] = mapped_column(String(16))
    # Outbound: "pending" -> "sent" | "failed". Inbound, for the bot: "pending" until it has
    # answered -> "answered"; "limited" (over the per-user limit, kept unanswered); "handed" (the
    # bot stayed unavailable: a human answers). None: nothing for the bot to answer.
    status: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # Outbound from a human agent (None: the bot).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    conversation: Mapped[Conversation] = relationship(back_populates="messages")
