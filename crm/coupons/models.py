"""One coupon issued to one member, with its face terms frozen at issue ("以券面为准")."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin

ISSUED, REDEEMED, EXPIRED, VOID = "issued", "redeemed", "expired", "void"
STATUSES = (ISSUED, REDEEMED, EXPIRED, VOID)


class Coupon(TimestampMixin, Base):
    """A coupon of a CPN-* type: issued → redeemed | expired | void."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("valid_until >= valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the customer reads out at the till: 8 characters without 0/O/1/I.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    type_id: Mapped[str] = mapped_column(String(16))  # the CPN-* rule id
    name: Mapped[str] = mapped_column(String(50))
    # Either an amount off (face value) or a rate with a cap (折扣券).
    face_value_yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    discount_rate: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    max_discount_yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    threshold_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date, index=True)  # inclusive
    status: Mapped[str] = mapped_column(String(10), default=ISSUED)
    redeemed_order_no: Mapped[str | None] = mapped_column(String(40), index=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redeemed_discount_yuan: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    # The same issue (campaign × member, birthday × year, …) carries the same key: one coupon.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
