"""One purchased item of a POS or mini-program-mall order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin
from crm.privacy.crypto import DIGEST_CHARS, Encrypted, blind_index, phone_digest


class Purchase(TimestampMixin, Base):
    """An order as imported (one SKU per order number); a re-import changes nothing."""

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(8))  # pos | mall
    # The member's phone as the till or the mall recorded it; linked to a customer when known.
    # Stored encrypted; looked up by member_phone_hash (the same keyed hash as Customer.phone_hash).
    member_phone: Mapped[str | None] = mapped_column(Encrypted("purchases.member_phone", 20))
    member_phone_hash: Mapped[str | None] = mapped_column(String(DIGEST_CHARS), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    sku: Mapped[str] = mapped_column(String(32), index=True)
    price_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Mall orders: warranty starts on delivery (POL-WAR-010); stores: on the purchase day.
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    store_id: Mapped[str | None] = mapped_column(String(16))


blind_index(Purchase.member_phone, member_phone_hash=phone_digest)
