"""Redeeming: the discount by the coupon's face; every refusal names why and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm.coupons import service
from crm.coupons.errors import (
    CouponAlreadyUsed,
    CouponExpired,
    CouponNotFound,
    NotYourCoupon,
    StackingNotAllowed,
    ThresholdNotMet,
)
from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.errors import DomainError, InvalidInput
from tests.crm.coupons.conftest import TODAY, key, member, order_no, purchase, rule, snapshot


def _issue(db: Session, customer: Customer, type_id: str, **kw: Decimal) -> Coupon:
    return service.issue(db, customer.id, type_id, key(), TODAY, **kw)


def _refused(
    db: Session,
    coupon: Coupon,
    error: type[DomainError],
    customer_id: int | None = None,
    **kw: object,
) -> DomainError:
    """Redeem and expect `error`; the coupon's row must be exactly as before."""
    before = snapshot(db, coupon)
    args: dict[str, object] = {
        "order_no": order_no(),
        "order_amount": Decimal("10000"),
        "today": TODAY,
        **kw,
    }
    with pytest.raises(error) as caught:
        service.redeem(db, coupon.code, customer_id or coupon.customer_id, **args)  # type: ignore[arg-type]
    assert snapshot(db, coupon) == before
    assert caught.value.detail  # a Chinese message for the member
    return caught.value


def test_redeeming_marks_the_coupon_used_on_the_order(db: Session) -> None:
    mj = rule(db, "CPN-MJ")["examples"][0]
    customer = member(db)
    coupon = _issue(db, customer, "CPN-MJ", threshold_yuan=Decimal(str(mj["threshold_yuan"])))
    order = order_no()
    done = service.redeem(
        db,
        coupon.code.lower()[:4] + " " + coupon.code[4:],
        customer.id,
        order,
        Decimal("350"),
        TODAY,
    )
    assert done.discount_yuan == Decimal(str(mj["off_yuan"]))
    assert done.member_discount_allowed is True
    assert (done.coupon.status, done.coupon.redeemed_order_no) == ("redeemed", order)
    db.refresh(coupon)
    assert coupon.status == "redeemed" and coupon.redeemed_at is not None
    assert coupon.redeemed_discount_yuan == done.discount_yuan


def test_a_discount_coupon_saves_the_rate_up_to_its_cap_without_member_discount(
    db: Session,
) -> None:
    zk = rule(db, "CPN-ZK")
    rate, cap = Decimal(str(zk["rate"])), Decimal(str(zk["max_discount_yuan"]))
    customer = member(db)
    small = service.redeem(
        db, _issue(db, customer, "CPN-ZK").code, customer.id, order_no(), Decimal("300"), TODAY
    )
    assert small.discount_yuan == Decimal("300") * (1 - rate)
    assert small.member_discount_allowed is False  # MEM-DSC-002
    big = service.redeem(
        db, _issue(db, customer, "CPN-ZK").code, customer.id, order_no(), Decimal("5000"), TODAY
    )
    assert big.discount_yuan == cap


def test_a_face_value_gives_no_change(db: Session) -> None:
    customer = member(db)
    coupon = _issue(db, customer, "CPN-WX")  # no threshold
    done = service.redeem(db, coupon.code, customer.id, "RP-1", Decimal("12.50"), TODAY)
    assert done.discount_yuan == Decimal("12.50")


def test_a_used_coupon_is_refused(db: Session) -> None:
    customer = member(db)
    coupon = _issue(db, customer, "CPN-TJ")
    first = order_no()
    service.redeem(db, coupon.code, customer.id, first, Decimal("500"), TODAY)
    error = _refused(db, coupon, CouponAlreadyUsed)
    assert first in error.detail
    _refused(db, coupon, CouponAlreadyUsed, order_no=first)  # the same order again too


def test_an_expired_coupon_is_refused_before_and_after_the_expiry_job(db: Session) -> None:
    coupon = _issue(db, member(db), "CPN-TJ")
    after = coupon.valid_until + timedelta(days=1)
    _refused(db, coupon, CouponExpired, today=after)
    service.expire_due(db, after)
    db.refresh(coupon)
    assert coupon.status == "expired"
    _refused(db, coupon, CouponExpired, today=coupon.valid_until)


def test_the_last_valid_day_still_counts(db: Session) -> None:
    customer = member(db)
    coupon = _issue(db, customer, "CPN-TJ")
    done = service.redeem(
        db, coupon.code, customer.id, order_no(), Decimal("500"), coupon.valid_until
    )
    assert done.coupon.status == "redeemed"


def test_a_void_or_not_yet_valid_coupon_is_refused(db: Session) -> None:
    coupon = _issue(db, member(db), "CPN-TJ")
    _refused(db, coupon, CouponExpired, today=TODAY - timedelta(days=1))
    coupon.status = "void"
    db.flush()
    assert "作废" in _refused(db, coupon, CouponExpired).detail


def test_another_members_coupon_is_refused(db: Session) -> None:
    coupon = _issue(db, member(db), "CPN-TJ")
    _refused(db, coupon, NotYourCoupon, customer_id=member(db).id)


def test_an_unknown_code_is_refused(db: Session) -> None:
    with pytest.raises(CouponNotFound, match="ZZZZ2222"):
        service.redeem(db, "ZZZZ2222", member(db).id, order_no(), Decimal("100"), TODAY)


def test_the_threshold_is_enforced_at_the_boundary(db: Session) -> None:
    customer = member(db)
    coupon = _issue(db, customer, "CPN-XR")
    threshold = coupon.threshold_yuan
    _refused(db, coupon, ThresholdNotMet, order_amount=threshold - Decimal("0.01"))
    done = service.redeem(db, coupon.code, customer.id, order_no(), threshold, TODAY)
    assert done.discount_yuan == coupon.face_value_yuan


def test_one_product_coupon_per_order(db: Session) -> None:
    customer = member(db, "金卡")
    order = order_no()
    service.redeem(
        db, _issue(db, customer, "CPN-TJ").code, customer.id, order, Decimal("900"), TODAY
    )
    for type_id in ("CPN-SR", "CPN-TJ", "CPN-ZK"):
        second = _issue(db, customer, type_id)
        error = _refused(db, second, StackingNotAllowed, order_no=order)
        assert "推荐有礼券" in error.detail
    # …and the same coupon is fine on another order.
    assert service.redeem(db, second.code, customer.id, order_no(), Decimal("900"), TODAY)


def test_a_repair_coupon_keeps_to_repair_orders_one_each(db: Session) -> None:
    customer = member(db, "钻石")
    goods, repair = order_no(), order_no("RP")
    service.redeem(
        db, _issue(db, customer, "CPN-TJ").code, customer.id, goods, Decimal("900"), TODAY
    )
    wx = _issue(db, customer, "CPN-WX")
    _refused(db, wx, StackingNotAllowed, order_no=goods)
    service.redeem(db, wx.code, customer.id, repair, Decimal("80"), TODAY)
    _refused(db, _issue(db, customer, "CPN-WX"), StackingNotAllowed, order_no=repair)
    _refused(db, _issue(db, customer, "CPN-TJ"), StackingNotAllowed, order_no=repair)


def test_the_new_member_coupon_only_serves_the_first_order(db: Session) -> None:
    customer = member(db)
    coupon = _issue(db, customer, "CPN-XR")
    first = purchase(db, customer, TODAY + timedelta(days=2))
    # A later order after the first one: the coupon has lapsed (CPN-XR first_order_only).
    error = _refused(
        db, coupon, CouponExpired, order_no=order_no(), today=TODAY + timedelta(days=5)
    )
    assert first.order_no in error.detail
    # The first order itself (imported before the till keyed the coupon in) may use it.
    done = service.redeem(
        db, coupon.code, customer.id, first.order_no, Decimal("120"), TODAY + timedelta(days=2)
    )
    assert done.coupon.status == "redeemed"


def test_an_order_before_registration_does_not_count(db: Session) -> None:
    customer = member(db)
    purchase(db, customer, TODAY - timedelta(days=30))
    coupon = _issue(db, customer, "CPN-XR")
    assert service.redeem(db, coupon.code, customer.id, order_no(), Decimal("120"), TODAY)


def test_bad_input_is_refused(db: Session) -> None:
    coupon = _issue(db, member(db), "CPN-TJ")
    _refused(db, coupon, InvalidInput, order_amount=Decimal("-1"))
    _refused(db, coupon, InvalidInput, order_no="  ")
