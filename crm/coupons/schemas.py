"""What the API and the actions show of coupons and redemptions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class CouponRead(BaseModel):
    """A coupon as the member and the till see it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    customer_id: int
    type_id: str
    name: str
    face_value_yuan: Decimal | None
    discount_rate: Decimal | None
    max_discount_yuan: Decimal | None
    threshold_yuan: Decimal
    valid_from: date
    valid_until: date
    status: str
    redeemed_order_no: str | None
    redeemed_at: datetime | None


class RedeemRequest(BaseModel):
    """The till or the mall redeeming a coupon on an order."""

    code: str = Field(min_length=4, max_length=16)
    order_no: str = Field(min_length=1, max_length=40)
    # The applicable goods amount after the member discount, without shipping (CPN-GEN-003).
    order_amount_yuan: Decimal = Field(ge=0, max_digits=10, decimal_places=2)


class Redemption(BaseModel):
    """A redeemed coupon, what it took off, and whether the member discount still applies."""

    coupon: CouponRead
    discount_yuan: Decimal
    member_discount_allowed: bool  # false for 折扣券 (MEM-DSC-002)
