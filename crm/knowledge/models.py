"""Knowledge-base tables: loaded from the files (FAQs merged with back-office work), read by the
bot and the actions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin

ORIGINS = ("file", "backoffice")


class Faq(Base):
    """One canonical customer question and its answer."""

    __tablename__ = "kb_faqs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # faq-001
    category: Mapped[str] = mapped_column(String(32), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "file" (faq.yml) or "backoffice" (created there; a load of the files keeps it).
    origin: Mapped[str] = mapped_column(String(16), default="file", server_default="file")
    # The last back-office change of question/answer; both None while the text is the file's.
    updated_by: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The file's text as last loaded: a load tells "file changed since the edit" from "not".
    file_question: Mapped[str | None] = mapped_column(Text)
    file_answer: Mapped[str | None] = mapped_column(Text)


class ResolvedQuestion(TimestampMixin, Base):
    """An unanswered customer question a supervisor turned into an FAQ (hidden from the list)."""

    __tablename__ = "kb_resolved_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The question normalised (crm.knowledge.unanswered.question_key): how repeats are grouped.
    question_key: Mapped[str] = mapped_column(String(200), unique=True)
    question: Mapped[str] = mapped_column(Text)
    # The link goes with its FAQ: if faq.yml drops the FAQ, the question is unanswered again.
    faq_id: Mapped[str] = mapped_column(ForeignKey("kb_faqs.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(50))


class Product(Base):
    """One SKU; the full entry (specs, warranty, compatibility) is kept in `data`."""

    __tablename__ = "kb_products"

    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(50))
    series: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(50))
    price_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Store(Base):
    """A store or the repair centre."""

    __tablename__ = "kb_stores"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # JX-HZ01
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Rule(Base):
    """A policy or membership rule (POL-*, MEM-*, TIER-*, PTS-*, CPN-*) with its numbers."""

    __tablename__ = "kb_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # policies | membership
    section: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
