"""Integration clients (keys stored as hashes) and the responses remembered per Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, utcnow

# What a client may do; each write endpoint of /api/integration/v1 needs one of these.
SCOPES = (
    "purchases:write",
    "refunds:write",
    "coupons:redeem",
    "points:redeem",
    "reviews:write",
    "referrals:write",
)


class IntegrationClient(TimestampMixin, Base):
    """A system allowed to call the integration API with its own key."""

    __tablename__ = "integration_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    # The key's first 8 characters, shown to admins to tell keys apart; looked up by it.
    key_prefix: Mapped[str] = mapped_column(String(8), index=True)
    # sha256 hex of the whole key; the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyRecord(Base):
    """The response a client's write gave under its Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("integration_clients.id"))
    key: Mapped[str] = mapped_column(String(80))
    # sha256 hex of the method, the path and the canonical JSON body.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Indexed for the retention clean-up, which deletes by age.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
