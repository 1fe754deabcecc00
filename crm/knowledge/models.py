"""Knowledge-base tables: replaced as a whole on each load, read by the bot and the actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Float, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base


class Faq(Base):
    """One canonical customer question and its answer."""

    __tablename__ = "kb_faqs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # faq-001
    category: Mapped[str] = mapped_column(String(32), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    refs: Mapped[list[str]] = mapped_column(JSON, default=list)


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
