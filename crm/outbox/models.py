"""The outbox: one row per message to send, in order per recipient."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, utcnow


class OutboxItem(TimestampMixin, Base):
    """A message to one WeChat user: customer-service, template or subscribe message.

    status: pending -> sending -> sent | failed | cancelled | unknown. `unknown` marks a
    non-idempotent send interrupted mid-flight: it is never repeated automatically.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # custom | template | subscribe
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Sent instead when WeChat refuses this one as outside the window (45015/45047).
    fallback: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The caller's idempotency key (e.g. "ticket-12-state-4"): enqueueing twice sends once.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    errcode: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Template messages: WeChat's msgid, and the delivery receipt it reports later.
    wechat_msgid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    receipt: Mapped[str | None] = mapped_column(String(64))
