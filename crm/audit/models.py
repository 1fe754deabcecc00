"""One audit entry per staff action; rows are never updated or deleted (the database refuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow

OUTCOMES = ("ok", "refused")


class AuditEntry(Base):
    """A staff action: who, when, from where, on what, what changed, and whether it went through."""

    __tablename__ = "audit_entries"
    __table_args__ = (CheckConstraint("outcome IN ('ok', 'refused')", name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # No foreign key: a failed login names no account, and the log outlives any account.
    staff_id: Mapped[int | None] = mapped_column(Integer)
    staff_username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), index=True)  # dotted, e.g. points.adjust
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    # Ids, amounts, states and reasons only: never a customer's message or full phone number.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(8))  # one of OUTCOMES
