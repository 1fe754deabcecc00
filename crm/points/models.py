"""The points ledger (append-only) and each member's cached balance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, utcnow

# earn: an order's points · redeem: points spent · reverse: an order's points taken back on a
# refund · return: spent points given back on a refund · expire: past PTS-EXP-001 · adjust: staff.
KINDS = ("earn", "redeem", "reverse", "return", "expire", "adjust")


class PointsEntry(TimestampMixin, Base):
    """One credit (+) or debit (−) of a member's points; never updated or deleted."""

    __tablename__ = "points_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('" + "', '".join(KINDS) + "')", name="kind"),
        # Only earn and reverse may record a zero: the order or the refund happened all the same.
        CheckConstraint("amount <> 0 OR kind IN ('earn', 'reverse')", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(200))
    # Order number, coupon code or staff name the entry is about.
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # Credits: the last day the points can be used (PTS-EXP-001); debits: None.
    expires_on: Mapped[date | None] = mapped_column(Date)
    # earn: the paid amount the points were earned on; reverse: the amount refunded.
    yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    # reverse: points the balance could not cover, taken from the refund instead (PTS-REF-001).
    shortfall: Mapped[int] = mapped_column(default=0, server_default="0")


class PointsAccount(Base):
    """A member's balance, always the sum of their entries; locked by every change."""

    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
