"""What integration clients send and get back (documented in /openapi.json)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm.customers.schemas import normalize_mobile
from crm.points.schemas import RefundPoints
from crm.purchases.schemas import ImportReport

MAX_ORDERS = 1000  # per request: every new order is also credited; bulk history goes by CLI
MAX_ID = 2**31 - 1  # member ids are 32-bit INTEGER keys: anything larger names no member


class ClientRead(BaseModel):
    """A client as admins see it: never the key, only its first characters."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    key_prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ErrorBody(BaseModel):
    """Every refusal: the error's name and a message (InvalidImport adds `errors`)."""

    error: str = Field(examples=["IdempotencyKeyReused"])
    detail: str = Field(examples=["Idempotency-Key 已用于另一个请求"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MemberRef(_Strict):
    """The member, by `member_id` or by the `member_phone` bound to their account (one of them)."""

    member_id: int | None = Field(
        default=None, gt=0, le=MAX_ID, description="会员编号（customer id）"
    )
    member_phone: str | None = Field(default=None, description="会员绑定的 11 位手机号")

    @field_validator("member_phone")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return normalize_mobile(value) if value else None

    @model_validator(mode="after")
    def _one_of(self) -> MemberRef:
        if (self.member_id is None) == (self.member_phone is None):
            raise ValueError("give exactly one of member_id and member_phone")
        return self


class PurchasesIn(_Strict):
    """Orders paid at a till or in the mall (fields as in `python -m crm.purchases import`)."""

    orders: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ORDERS,
        description="order_no, source (pos|mall), member_phone and/or member_id, sku, "
        "price_yuan, paid_at, delivered_at (mall), store (pos)",
    )


class PointsCredit(BaseModel):
    """The points one new order earned its member."""

    order_no: str
    member_id: int
    points: int


class PurchasesResult(ImportReport):
    """The import's report and the points credited for the orders it added."""

    credits: list[PointsCredit] = Field(default_factory=list)
    points_credited: int = 0


class RefundIn(_Strict):
    """One refund on an imported order (partial refunds add up to at most the price)."""

    order_no: str = Field(min_length=1, max_length=40)
    refunded_yuan: Decimal = Field(gt=0, max_digits=10, decimal_places=2)


class RefundResult(RefundPoints):
    """What the refund did to the member's points, and their tier afterwards (MEM-TIER-005)."""

    member_id: int
    tier: str


class CouponRedeemIn(MemberRef):
    """The till using a member's coupon on an order."""

    code: str = Field(min_length=4, max_length=16)
    order_no: str = Field(min_length=1, max_length=40)
    order_amount: Decimal = Field(
        ge=0,
        max_digits=10,
        decimal_places=2,
        description="applicable goods amount after the member discount, without shipping",
    )


class PointsRedeemIn(MemberRef):
    """The till paying part of an order with the member's points (PTS-USE-001)."""

    points: int = Field(gt=0)
    order_no: str = Field(min_length=1, max_length=40)
    order_yuan: Decimal = Field(
        ge=0, max_digits=10, decimal_places=2, description="order amount (caps the points used)"
    )


class PointsRedeemed(BaseModel):
    """Points spent on an order, what they are worth, and the balance left."""

    member_id: int
    order_no: str
    points: int
    yuan: Decimal
    balance: int


class ReviewIn(MemberRef):
    """The mall reporting a member's approved review of one order line (PTS-EARN-003)."""

    order_no: str = Field(min_length=1, max_length=40)
    sku: str = Field(min_length=1, max_length=32)
    text_chars: int = Field(ge=0, description="characters of review text")
    with_photo: bool = Field(default=False, description="at least one real photo attached")
    reviewed_on: date = Field(description="the day the member posted the review (Shanghai)")


class ReviewResult(BaseModel):
    """Points a review earned (0 once the monthly cap is used up) and the balance after."""

    member_id: int
    order_no: str
    sku: str
    points: int
    already_rewarded: bool = Field(description="the line was rewarded before: nothing new")
    balance: int


class ReferralIn(_Strict):
    """The mall reporting that an invited friend's first order is 8 days delivered, unrefunded."""

    referrer_id: int = Field(
        gt=0, le=MAX_ID, description="the member whose invite the friend registered by"
    )
    friend_id: int = Field(gt=0, le=MAX_ID, description="the invited friend's member id")
    first_order_no: str = Field(min_length=1, max_length=40)
