"""What the bot says about a member's points, tier and coupons."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from crm.coupons import service as coupons
from crm.customers.models import Customer
from crm.members.replies import NOT_BOUND, coupons_summary, plain, points_summary
from crm.points import service as points

TODAY = date(2026, 11, 24)


def _member(db: Session, phone: bool = True) -> Customer:
    member = Customer(phone=f"133{secrets.randbelow(10**8):08d}" if phone else None)
    db.add(member)
    db.flush()
    return member


def test_amounts_read_as_people_write_them() -> None:
    assert [plain(Decimal(x)) for x in ("30.00", "8.50", "99", "0.850")] == [
        "30",
        "8.5",
        "99",
        "0.85",
    ]


def test_an_unbound_customer_is_told_to_bind(db: Session) -> None:
    customer = _member(db, phone=False)
    assert points_summary(db, customer, TODAY) == NOT_BOUND
    assert coupons_summary(db, customer, TODAY) == NOT_BOUND


def test_points_tier_and_coupons_of_a_member(db: Session) -> None:
    member = _member(db)
    points.adjust(db, member.id, 1234, "门店活动补发", "店员", f"t:{member.id}", today=TODAY)
    text = points_summary(db, member, TODAY)
    assert "1234 积分" in text and "普通会员" in text and "升级银卡" in text
    assert "没有可用的优惠券" in coupons_summary(db, member, TODAY)
    coupon = coupons.issue(db, member.id, "CPN-XR", f"c:{member.id}", TODAY)
    listed = coupons_summary(db, member, TODAY)
    assert coupon.code in listed and "30 元" in listed and "满 99 元可用" in listed
