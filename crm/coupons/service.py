"""Issuing coupons (idempotent by key, one member or a segment) and redeeming them once.

Redemption locks the member's row, then the coupon's (FOR UPDATE), checks every rule and
writes with a conditional UPDATE … WHERE status = 'issued': one coupon, one use, even where
the database has no row locks (SQLite). Services flush; the caller's unit of work commits.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.coupons import catalogue, checks, segments
from crm.coupons.errors import CouponAlreadyUsed, CouponNotFound, NotYourCoupon
from crm.coupons.models import EXPIRED, ISSUED, REDEEMED, Coupon
from crm.coupons.notices import announce_issued
from crm.coupons.schemas import CouponRead, Redemption
from crm.customers.models import Customer
from crm.db import rowcount, utcnow
from crm.errors import Conflict, InvalidInput, NotFound

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread at the till
CODE_LENGTH = 8
_CODE_ATTEMPTS = 5
BIRTHDAY_TYPE = "CPN-SR"


def normalize_code(raw: str) -> str:
    """The code as stored: upper case, without the spaces or dashes people type."""
    return re.sub(r"[\s-]", "", raw).upper()


def get_by_code(session: Session, code: str) -> Coupon:
    """The coupon with this code, or CouponNotFound."""
    coupon = session.scalars(select(Coupon).where(Coupon.code == normalize_code(code))).first()
    if coupon is None:
        raise CouponNotFound(f"没有找到券码为 {code.strip()} 的优惠券，请核对券码")
    return coupon


def issue(
    session: Session,
    customer_id: int,
    type_id: str,
    key: str,
    today: date,
    *,
    threshold_yuan: Decimal | None = None,
) -> Coupon:
    """Issue a coupon of `type_id` and tell the member; the same `key` gives the same coupon."""
    # `threshold_yuan` picks the face of a 满减券 (CPN-MJ) among the rule's examples.
    coupon, _ = _issue(session, customer_id, type_id, key, today, threshold_yuan)
    return coupon


def issue_to_segment(
    session: Session,
    segment: segments.Segment,
    type_id: str,
    campaign_key: str,
    today: date,
    *,
    threshold_yuan: Decimal | None = None,
) -> int:
    """Issue a coupon to every member of `segment`, once per member per campaign; how many new."""
    issued = 0
    for customer_id in segments.members_of(session, segment, today):
        key = f"{campaign_key}:{customer_id}"
        _, created = _issue(session, customer_id, type_id, key, today, threshold_yuan)
        issued += created
    return issued


def issue_birthday_coupons(session: Session, today: date) -> int:
    """Daily job: this year's 生日券 to members in their birthday month; how many were issued."""
    # Face by tier at issue (MEM-BDAY-002); later runs in the month catch up on missed days;
    # the key per year keeps it to one a year even if the birthday moves (MEM-BDAY-003).
    segment = segments.BirthdayMonth(today.month)
    return issue_to_segment(session, segment, BIRTHDAY_TYPE, f"birthday:{today.year}", today)


def _issue(
    session: Session,
    customer_id: int,
    type_id: str,
    key: str,
    today: date,
    threshold_yuan: Decimal | None,
) -> tuple[Coupon, bool]:
    existing = _by_key(session, key)
    if existing is not None:
        if (existing.customer_id, existing.type_id) != (customer_id, type_id):
            raise Conflict(f"发券幂等键 {key} 已用于另一张优惠券")
        return existing, False
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"没有找到会员 {customer_id}")
    terms = catalogue.terms(session, type_id, today, customer.tier, threshold_yuan)
    for _ in range(_CODE_ATTEMPTS):
        coupon = Coupon(
            code=_new_code(),
            customer_id=customer_id,
            idempotency_key=key,
            status=ISSUED,
            **{f: getattr(terms, f) for f in _TERM_FIELDS},
        )
        try:
            with session.begin_nested():
                session.add(coupon)
                session.flush()
        except IntegrityError:
            raced = _by_key(session, key)  # the same issue committed by another process
            if raced is not None:
                return raced, False
            continue  # the code was taken: draw another
        announce_issued(session, coupon)
        return coupon, True
    raise Conflict("暂时无法生成券码，请稍后重试")


_TERM_FIELDS = (
    "type_id",
    "name",
    "face_value_yuan",
    "discount_rate",
    "max_discount_yuan",
    "threshold_yuan",
    "valid_from",
    "valid_until",
)


def _by_key(session: Session, key: str) -> Coupon | None:
    return session.scalars(select(Coupon).where(Coupon.idempotency_key == key)).first()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def redeem(
    session: Session,
    code: str,
    customer_id: int,
    order_no: str,
    order_amount: Decimal,
    today: date,
) -> Redemption:
    """Use the member's coupon on an order; on any error nothing changes."""
    # `order_amount`: the applicable goods amount after member discount, no shipping (CPN-GEN-003).
    order_no = order_no.strip()
    if not order_no or order_amount < 0:
        raise InvalidInput("请提供订单号和不小于 0 的订单金额")
    found = get_by_code(session, code)
    if found.customer_id != customer_id:
        raise NotYourCoupon("这张优惠券不属于当前会员：优惠券绑定会员账号，不可转赠")
    # The member's redemptions go one at a time, so two coupons cannot both pass the
    # one-per-order check for the same order.
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    coupon = session.scalars(
        select(Coupon)
        .where(Coupon.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    checks.usable(coupon, today)
    checks.threshold(coupon, order_amount)
    usage = catalogue.usage(session, coupon.type_id)
    checks.stacking(session, coupon, usage, order_no)
    if usage.first_order_only:
        checks.first_order(session, coupon, order_no)
    off = catalogue.discount(
        coupon.face_value_yuan, coupon.discount_rate, coupon.max_discount_yuan, order_amount
    )
    result = session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            Coupon.status == ISSUED,
            Coupon.valid_from <= today,
            Coupon.valid_until >= today,
        )
        .values(
            status=REDEEMED,
            redeemed_order_no=order_no,
            redeemed_at=utcnow(),
            redeemed_discount_yuan=off,
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:  # only without row locks: another redemption won the race
        raise CouponAlreadyUsed("这张优惠券已被使用，每张券只能使用一次")
    session.refresh(coupon)
    return Redemption(
        coupon=CouponRead.model_validate(coupon),
        discount_yuan=off,
        member_discount_allowed=usage.stacks_with_member_discount,
    )


def expire_due(session: Session, today: date) -> int:
    """Mark issued coupons past their last valid day as expired; how many."""
    result = session.execute(
        update(Coupon)
        .where(Coupon.status == ISSUED, Coupon.valid_until < today)
        .values(status=EXPIRED)
        .execution_options(synchronize_session="fetch")
    )
    return rowcount(result)


def list_valid(session: Session, customer_id: int, today: date) -> list[Coupon]:
    """The member's coupons usable today, soonest to expire first."""
    stmt = (
        select(Coupon)
        .where(
            Coupon.customer_id == customer_id,
            Coupon.status == ISSUED,
            Coupon.valid_from <= today,
            Coupon.valid_until >= today,
        )
        .order_by(Coupon.valid_until, Coupon.id)
    )
    return list(session.scalars(stmt))
