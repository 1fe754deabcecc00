"""A handoff is one stretch of a conversation answered by a human, from request to resolution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.conversations.models import Conversation
from crm.db import Base, TimestampMixin

# Why the bot stepped aside.
REASONS = {
    "asked": "客户要求人工",
    "complaint": "投诉",
    "anger": "情绪激动",
    "fallback": "连续未能理解",
    "low_rating": "低分评价",
    "action_failed": "系统处理失败",
    "bot_unavailable": "智能客服不可用",
}
STATES = ("queued", "assigned", "resolved")


class Handoff(TimestampMixin, Base):
    """One request for a human: queued, assigned to an agent, resolved."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # a key of REASONS
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    # The customer's store (latest purchase or repair): only its agents see it. None: any agent.
    store_id: Mapped[str | None] = mapped_column(String(16), index=True)
    # The customer left a message (after hours, or nobody free): answered later, not live.
    left_message: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # How it ended: "agent", "idle" (nobody spoke for 30 minutes), "customer" (went back).
    resolution: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # Bumped by every change (row locked); a page acting on an older version was stale.
    version: Mapped[int] = mapped_column(Integer, default=1)
    conversation: Mapped[Conversation] = relationship()
