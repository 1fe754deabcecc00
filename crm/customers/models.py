"""A customer is a person; a WeChat identity is one (appid, openid) through which they reach us."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin
from crm.privacy.crypto import (
    DIGEST_CHARS,
    Encrypted,
    blind_index,
    phone_digest,
    phone_last4_digest,
)


class Customer(TimestampMixin, Base):
    """A person who talks to us, with or without a membership."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Personal data is stored encrypted (crm.privacy.crypto); the attributes read as plaintext.
    display_name: Mapped[str | None] = mapped_column(Encrypted("customers.display_name", 100))
    # The member's verified mobile number (mini-program phone binding, a store's till, an
    # import); purchases recorded under it belong to this customer. Looked up by phone_hash
    # (and by phone_last4_hash for the back office's «last four digits» search), both kept in
    # step with it whenever it is set.
    phone: Mapped[str | None] = mapped_column(Encrypted("customers.phone", 20))
    phone_hash: Mapped[str | None] = mapped_column(String(DIGEST_CHARS), index=True, unique=True)
    phone_last4_hash: Mapped[str | None] = mapped_column(String(DIGEST_CHARS), index=True)
    # When the member last bound a phone through WeChat (MEM-ENR-004: one change per 30 days);
    # kept after an unbind so that unbinding does not reset the clock.
    phone_bound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Membership tier name as in membership.yml: 普通会员, 银卡, 金卡, 钻石.
    tier: Mapped[str] = mapped_column(String(10), default="普通会员", server_default="普通会员")
    # Start of the tier's 12-month validity (MEM-TIER-004); None until a first upgrade.
    tier_since: Mapped[date | None] = mapped_column(Date)
    # Birthday month doubles purchase points (MEM-BDAY-001).
    birthday: Mapped[date | None] = mapped_column(Date)
    identities: Mapped[list[WechatIdentity]] = relationship(back_populates="customer")


blind_index(Customer.phone, phone_hash=phone_digest, phone_last4_hash=phone_last4_digest)


class WechatIdentity(TimestampMixin, Base):
    """One openid under one appid (official account or mini-program)."""

    __tablename__ = "wechat_identities"
    __table_args__ = (UniqueConstraint("appid", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    appid: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Start of the customer-service window: the last message, menu click, follow or scan.
    last_interaction_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Official account only: None = unknown, False after `unsubscribe` (nothing is sent then).
    subscribed: Mapped[bool | None] = mapped_column(Boolean)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Acquisition source: the QR scene of the first follow, or the mini-program SessionFrom.
    source: Mapped[str | None] = mapped_column(String(128))
    customer: Mapped[Customer] = relationship(back_populates="identities")


class SubscriptionCredit(TimestampMixin, Base):
    """One-time subscribe-message acceptances of a user for a template, spent one per send."""

    __tablename__ = "subscription_credits"
    __table_args__ = (UniqueConstraint("identity_id", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("wechat_identities.id"), index=True)
    template_id: Mapped[str] = mapped_column(String(128))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
