"""What recomputing a tier and asking for tier progress give."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from crm.coupons.schemas import CouponRead
from crm.points.schemas import ExpiringPoints, LedgerPage


class TierChange(BaseModel):
    """The outcome of one recompute: the tier before and after, and why."""

    before: str
    after: str
    since: date | None  # start of the tier's validity (MEM-TIER-004)
    reason: str

    @property
    def changed(self) -> bool:
        """True when the tier moved."""
        return self.before != self.after


class TierProgress(BaseModel):
    """Where the member stands: spend, the next tier and what it still takes, benefits."""

    tier: str
    spend_12m_yuan: Decimal
    valid_until: date | None  # the last day of the tier's validity; None for the base tier
    pending_upgrade: str | None  # a tier already reached, applied by the nightly recompute
    next_tier: str | None
    to_next_yuan: Decimal | None
    message: str  # 「再消费 X 元升级金卡」
    benefits: list[str]


class MemberOverview(BaseModel):
    """What the mini-program's 「我的」 page shows: the account, tier, points and tier progress."""

    customer_id: int
    linked_to_official_account: bool
    bound: bool  # a member once a phone is bound (MEM-ENR-001)
    phone: str | None  # masked: 138****5678
    tier: str | None
    points: int
    points_expiring: list[ExpiringPoints]
    progress: TierProgress | None


class MemberPoints(LedgerPage):
    """A page of the member's points ledger; empty while no phone is bound."""

    bound: bool


class MemberCoupons(BaseModel):
    """The member's coupons usable today, each with the code the till scans or types."""

    bound: bool
    items: list[CouponRead]
