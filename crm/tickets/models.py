"""A repair ticket, every state change it went through, and follow-ups for supervisors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, utcnow
from crm.privacy.crypto import Encrypted


class RepairTicket(TimestampMixin, Base):
    """One tool sent for repair, with the warranty decision taken when it was opened."""

    __tablename__ = "repair_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # RP20261123-0001
    # The same form submitted twice carries the same key and opens one ticket.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    sku: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50))
    fault: Mapped[str] = mapped_column(Text)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)  # battery hazard
    proof_kind: Mapped[str] = mapped_column(String(16))  # purchase | order | photo | serial
    proof_ref: Mapped[str | None] = mapped_column(String(64))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    warranty_start: Mapped[date | None] = mapped_column(Date)
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)  # None: to be checked (photo)
    warranty_reason: Mapped[str] = mapped_column(Text)
    exclusions: Mapped[list[str]] = mapped_column(JSON, default=list)
    fee_estimate: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact_phone: Mapped[str] = mapped_column(Encrypted("repair_tickets.contact_phone", 20))
    service_method: Mapped[str] = mapped_column(String(8))  # 到店 | 寄修 | 上门取件
    store_id: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    diagnosis: Mapped[str | None] = mapped_column(Text)
    quote_yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_asked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )


class TicketEvent(Base):
    """One state change (or note): who, when, from which state to which, and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("repair_tickets.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(64))  # customer:<id> | staff:<name> | system
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ticket: Mapped[RepairTicket] = relationship(back_populates="events")


class TicketFollowUp(TimestampMixin, Base):
    """A supervisor's to-do opened by a low satisfaction rating."""

    __tablename__ = "ticket_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("repair_tickets.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
