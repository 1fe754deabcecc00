"""A data request: one customer's request for a copy of their data, or for its erasure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin

EXPORT, ERASURE = "export", "erasure"
KINDS = (EXPORT, ERASURE)
# export: pending → approved (downloadable until `available_until`) | refused | cancelled;
# erasure: recorded as done when it happened (the chat confirmed it, or an admin did it).
PENDING, APPROVED, REFUSED, CANCELLED, DONE = "pending", "approved", "refused", "cancelled", "done"
STATUSES = (PENDING, APPROVED, REFUSED, CANCELLED, DONE)


class DataRequest(TimestampMixin, Base):
    """Who asked for what about which customer, who decided, and when; never any personal data.

    The row outlives an erasure (it proves the request was handled); after one, `customer_id`
    points at the anonymised shell that keeps the points ledger balanced.
    """

    __tablename__ = "data_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('export', 'erasure')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'cancelled', 'done')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # one of KINDS
    status: Mapped[str] = mapped_column(String(10), index=True)  # one of STATUSES
    channel: Mapped[str] = mapped_column(String(12))  # chat | backoffice
    # "customer" (in chat) or the staff username who filed it for a request by another channel.
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An approved export can be downloaded until then (the file is made at download time).
    available_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
