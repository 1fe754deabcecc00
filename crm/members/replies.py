"""What the bot tells a member about their points, tier and coupons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from crm.coupons import service as coupons
from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.members import service as members
from crm.points import service as points

NOT_BOUND = (
    "您的微信还没有绑定匠心会员，绑定后才能查积分和优惠券。回复「绑定会员」，"
    "用在门店或小程序登记的手机号验证一下就好。"
)


def points_summary(session: Session, customer: Customer, today: date) -> str:
    """Balance, points expiring soon, tier and what the next tier takes."""
    if not customer.phone:
        return NOT_BOUND
    lines = [f"您当前有 {points.balance(session, customer.id)} 积分（100 积分可抵 1 元）。"]
    for lot in points.expiring_soon(session, customer.id, today=today):
        lines.append(f"其中 {lot.points} 积分将在 {lot.expires_on:%Y年%-m月%-d日} 到期，记得使用。")
    standing = members.progress(session, customer, today)
    tier = f"会员等级：{standing.tier}"
    if standing.valid_until:
        tier += f"（有效期至 {standing.valid_until:%Y年%-m月%-d日}）"
    lines.append(f"{tier}。{standing.message}")
    return "\n".join(lines)


def plain(amount: Decimal) -> str:
    """30.00 → 30, 8.50 → 8.5: amounts as people write them."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def coupon_line(coupon: Coupon) -> str:
    """「满 199 减 20 元 · 有效期至 12月31日 · 券码 ABCD2345」."""
    if coupon.face_value_yuan is not None:
        value = f"{plain(coupon.face_value_yuan)} 元"
    else:
        value = f"{plain((coupon.discount_rate or Decimal(0)) * 10)} 折"
    threshold = f"满 {plain(coupon.threshold_yuan)} 元可用，" if coupon.threshold_yuan else ""
    return (
        f"· {coupon.name} {value}：{threshold}有效期至 {coupon.valid_until:%Y年%-m月%-d日}，"
        f"券码 {coupon.code}"
    )


def coupons_summary(session: Session, customer: Customer, today: date) -> str:
    """The member's valid coupons with expiry and the code to show at the till."""
    if not customer.phone:
        return NOT_BOUND
    valid = coupons.list_valid(session, customer.id, today)
    if not valid:
        return "您目前没有可用的优惠券。生日当月、升级和参加活动时都会发券，到账会通知您。"
    lines = [f"您有 {len(valid)} 张可用的优惠券："]
    lines += [coupon_line(c) for c in valid]
    lines.append("门店结账时出示券码即可，小程序下单时自动可选。")
    return "\n".join(lines)
