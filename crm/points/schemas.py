"""What reading a member's points gives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from crm.coupons.schemas import CouponRead


class PointsEntryRead(BaseModel):
    """One line of the ledger as the member sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    amount: int
    kind: str
    reason: str
    ref: str | None
    expires_on: date | None
    created_at: datetime


class LedgerPage(BaseModel):
    """A page of the ledger, newest first."""

    items: list[PointsEntryRead]
    page: int
    size: int
    total: int


class ExpiringPoints(BaseModel):
    """Points that lapse at the end of `expires_on`."""

    expires_on: date
    points: int


class RefundPoints(BaseModel):
    """What a refund did to the points (PTS-REF-001)."""

    order_no: str
    reversed_points: int  # the order's earned points taken back
    returned_points: int  # points spent on the order given back (not those already expired)
    shortfall_points: int  # earned points the balance could not cover …
    deduct_from_refund_yuan: Decimal  # … taken from the refund instead (100 points = 1 yuan)


class ExpiryReport(BaseModel):
    """What one run of the expiry job did."""

    customers: int
    points: int


class ReferralReward(BaseModel):
    """What the referrer got for a friend's first order (PTS-EARN-004): points and a coupon."""

    referrer_id: int
    friend_id: int
    first_order_no: str
    points: int
    coupon: CouponRead
