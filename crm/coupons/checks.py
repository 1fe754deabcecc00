"""The rules a redemption must pass; each raises its DomainError and changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.coupons import catalogue, segments
from crm.coupons.errors import CouponAlreadyUsed, CouponExpired, StackingNotAllowed, ThresholdNotMet
from crm.coupons.models import EXPIRED, REDEEMED, VOID, Coupon
from crm.customers.models import Customer
from crm.purchases.models import Purchase


def usable(coupon: Coupon, today: date) -> None:
    """Not used, not void, and inside its validity today."""
    if coupon.status == REDEEMED:
        used = f"{segments.local_day(coupon.redeemed_at)}" if coupon.redeemed_at else ""
        raise CouponAlreadyUsed(
            f"这张优惠券已于 {used} 在订单 {coupon.redeemed_order_no} 使用，每张券只能使用一次"
        )
    if coupon.status == VOID:
        raise CouponExpired("这张优惠券已作废，不能使用")
    if coupon.status == EXPIRED or coupon.valid_until < today:
        raise CouponExpired(
            f"这张优惠券已于 {coupon.valid_until:%Y-%m-%d} 到期失效，过期不补发、不延期"
        )
    if coupon.valid_from > today:
        raise CouponExpired(f"这张优惠券 {coupon.valid_from:%Y-%m-%d} 起才能使用")


def threshold(coupon: Coupon, order_amount: Decimal) -> None:
    """The order reaches the coupon's threshold (after member discount, CPN-GEN-003)."""
    if order_amount < coupon.threshold_yuan:
        raise ThresholdNotMet(
            f"{coupon.name}需满 {coupon.threshold_yuan} 元可用（按会员折扣后的适用商品金额，"
            f"不含运费），本单 {order_amount} 元"
        )


def stacking(session: Session, coupon: Coupon, usage: catalogue.UsageRules, order_no: str) -> None:
    """One product coupon per goods order; repair coupons one per repair order (CPN-GEN-001)."""
    # An order is either a goods order or a repair order, so the two kinds never meet on one.
    others = list(
        session.scalars(
            select(Coupon).where(
                Coupon.redeemed_order_no == order_no,
                Coupon.status == REDEEMED,
                Coupon.id != coupon.id,
            )
        )
    )
    names = "、".join(other.name for other in others)
    for other in others:
        if catalogue.usage(session, other.type_id).slot != usage.slot:
            raise StackingNotAllowed(
                f"订单 {order_no} 已使用{other.name}：维修抵用券只用于维修单，"
                "商品优惠券只用于商品订单"
            )
        if usage.one_per_order and other.type_id == coupon.type_id:
            raise StackingNotAllowed(
                f"订单 {order_no} 已使用{other.name}，{coupon.name}每单限 1 张"
            )
    if usage.max_per_order is not None and len(others) >= usage.max_per_order:
        kind = "维修抵用券" if usage.slot == catalogue.REPAIR else "商品优惠券"
        raise StackingNotAllowed(
            f"每笔订单限用 {usage.max_per_order} 张{kind}，订单 {order_no} 已使用{names}"
        )


def first_order(session: Session, coupon: Coupon, order_no: str) -> None:
    """CPN-XR: only the first order after registration; an earlier order lapses the coupon."""
    earlier = session.scalars(
        select(Purchase.order_no)
        .join(Customer, segments.owns())
        .where(
            Customer.id == coupon.customer_id,
            Purchase.order_no != order_no,
            Purchase.paid_at >= segments.start_of(coupon.valid_from),
        )
        .limit(1)
    ).first()
    if earlier is not None:
        raise CouponExpired(
            f"{coupon.name}仅限注册后的第一笔订单使用，您已有订单 {earlier}，该券已失效"
        )
