"""Scheduled jobs: expiring coupons past their last valid day, birthday coupons."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.coupons import service
from crm.coupons.models import Coupon
from tests.crm.coupons.conftest import TODAY, key, member, order_no, rule


def test_expire_due_expires_issued_coupons_past_their_last_day_only(db: Session) -> None:
    customer = member(db)
    due = service.issue(db, customer.id, "CPN-ZK", key(), TODAY)
    later = service.issue(db, customer.id, "CPN-WX", key(), TODAY)
    used = service.issue(db, customer.id, "CPN-ZK", key(), TODAY)
    service.redeem(db, used.code, customer.id, order_no(), Decimal("100"), TODAY)
    on = due.valid_until + timedelta(days=1)
    assert later.valid_until >= on
    service.expire_due(db, due.valid_until)  # its last day: still valid
    db.refresh(due)
    assert due.status == "issued"
    assert service.expire_due(db, on) >= 1
    for coupon in (due, later, used):
        db.refresh(coupon)
    assert (due.status, later.status, used.status) == ("expired", "issued", "redeemed")
    assert service.expire_due(db, on) == 0
    assert [c.id for c in service.list_valid(db, customer.id, on)] == [later.id]


def _birthday_coupons(db: Session, customer_id: int) -> list[Coupon]:
    stmt = select(Coupon).where(Coupon.customer_id == customer_id, Coupon.type_id == "CPN-SR")
    return list(db.scalars(stmt.order_by(Coupon.id)))


def test_birthday_coupons_go_out_in_the_birthday_month_once_a_year(db: Session) -> None:
    march = date(1990, 3, 20)
    gold, plain, april = member(db, "金卡"), member(db), member(db)
    gold.birthday, plain.birthday, april.birthday = march, march, date(1985, 4, 2)
    follower = member(db, phone=False)
    follower.birthday = march
    db.flush()
    first = date(2026, 3, 1)
    assert service.issue_birthday_coupons(db, first) >= 2
    by_tier = rule(db, "CPN-SR")["by_tier"]
    for who in (gold, plain):
        (coupon,) = _birthday_coupons(db, who.id)
        assert coupon.face_value_yuan == Decimal(str(by_tier[who.tier]["face_value_yuan"]))
        assert (coupon.valid_from, coupon.valid_until) == (first, date(2026, 3, 31))
    assert _birthday_coupons(db, april.id) == _birthday_coupons(db, follower.id) == []
    # Later runs in the month, or a birthday moved to a later month, give nothing more this year.
    service.issue_birthday_coupons(db, date(2026, 3, 15))
    gold.birthday = date(1990, 5, 20)
    db.flush()
    service.issue_birthday_coupons(db, date(2026, 5, 1))
    assert len(_birthday_coupons(db, gold.id)) == len(_birthday_coupons(db, plain.id)) == 1
    # Next year, again.
    service.issue_birthday_coupons(db, date(2027, 5, 1))
    assert len(_birthday_coupons(db, gold.id)) == 2
