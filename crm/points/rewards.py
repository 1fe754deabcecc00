"""Review and referral points (PTS-EARN-003/004): checked, capped per month, credited once.

Both post `earn` entries whose `ref` carries a `review:`/`referral:` prefix, so that a refund
of the order (matched on `ref == order_no`) never touches them, and whose idempotency key is
derived from what may be rewarded only once: `review:<order>:<sku>` and `referral:<friend>`.
A second review of a rewarded line, or a second report of a rewarded friend, returns the first
entry (and coupon) and changes nothing, so a late retry of the mall is harmless; the caller's
`key` only names the request in the log. The monthly caps count the entries credited in the
Shanghai calendar month, under the member's account lock, so two awards cannot both pass.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from crm.coupons import service as coupons
from crm.coupons.schemas import CouponRead
from crm.customers.models import Customer
from crm.errors import Conflict, NotFound
from crm.points import rules
from crm.points.errors import ReferralCapReached, ReferralNotEligible, ReviewNotEligible
from crm.points.ledger import (
    checked_key,
    find,
    new_entry,
    once,
    post,
    require_customer,
    same_operation,
)
from crm.points.models import PointsAccount, PointsEntry
from crm.points.schemas import ReferralReward
from crm.purchases.models import Purchase
from crm.purchases.service import belongs_to, get_by_order_no, purchases_of

log = logging.getLogger(__name__)
REVIEW = "review:"
REFERRAL = "referral:"
REFERRAL_COUPON = "CPN-TJ"


def review_key(order_no: str, sku: str) -> str:
    """The ledger key of an order line's review points: one award per line."""
    return f"{REVIEW}{order_no.strip()}:{sku.strip().upper()}"


def referral_key(friend_id: int) -> str:
    """The ledger (and coupon) key of a friend's referral reward: one reward per friend."""
    return f"{REFERRAL}{friend_id}"


def award_review(
    session: Session,
    customer_id: int,
    order_no: str,
    sku: str,
    text_chars: int,
    with_photo: bool,
    reviewed_on: date,
    key: str,
) -> PointsEntry | None:
    """Credit a review (PTS-EARN-003) up to the monthly cap; None when the cap is used up."""
    request = checked_key(key)
    line_key = review_key(order_no, sku)
    first = find(session, line_key)
    if first is not None:
        return same_operation(first, customer_id, "earn")
    terms = rules.review_terms(session)
    purchase = _reviewed_line(session, customer_id, order_no, sku)
    delivered = rules.local_date(purchase.delivered_at or purchase.paid_at)
    if not delivered <= reviewed_on <= delivered + timedelta(days=terms.window_days):
        raise ReviewNotEligible(f"评价须在签收后 {terms.window_days} 天内，订单 {order_no} 已超出")
    points, kind = _review_points(terms, text_chars, with_photo)

    def do(account: PointsAccount) -> PointsEntry | None:
        today = rules.today()
        left = terms.monthly_cap - _credited_in_month(session, customer_id, REVIEW, today)
        if left <= 0:
            log.info(
                "review points not credited: member %s reached the monthly cap of %s "
                "(order %s, sku %s, request %s)",
                *(customer_id, terms.monthly_cap, purchase.order_no, purchase.sku, request),
            )
            return None
        amount = min(points, left)
        capped = (
            f"（本月评价积分上限 {terms.monthly_cap}，只计 {amount}）" if amount < points else ""
        )
        reason = f"评价积分：订单 {purchase.order_no} {purchase.sku} {kind}{capped}"
        expires = rules.expires_on(session, today)
        entry = new_entry("earn", amount, reason, REVIEW + purchase.order_no, line_key, expires)
        return post(session, account, entry)

    def done() -> PointsEntry | None:
        found = find(session, line_key)
        return same_operation(found, customer_id, "earn") if found else None

    return once(session, customer_id, line_key, done, do)


def award_referral(
    session: Session,
    referrer_id: int,
    friend_id: int,
    first_order_no: str,
    today: date,
    key: str,
) -> ReferralReward:
    """Reward the referrer of a friend's first order (PTS-EARN-004): points and a CPN-TJ coupon."""
    # That the friend registered through this referrer's invite is the mall's word: the CRM
    # records no invitations. Everything else the rule asks is checked here.
    request = checked_key(key)
    line_key = referral_key(friend_id)
    entry = find(session, line_key)
    if entry is None:
        entry = _credit_referral(session, referrer_id, friend_id, first_order_no, today)
        log.info("referral: member %s rewarded for friend %s (%s)", referrer_id, friend_id, request)
    if entry.customer_id != referrer_id or entry.kind != "earn":
        raise Conflict(f"好友 {friend_id} 的推荐奖励已发给另一位会员")
    coupon = coupons.issue(session, referrer_id, REFERRAL_COUPON, line_key, today)
    first_order = (entry.ref or "").removeprefix(REFERRAL)
    return ReferralReward(
        referrer_id=referrer_id,
        friend_id=friend_id,
        first_order_no=first_order,
        points=entry.amount,
        coupon=CouponRead.model_validate(coupon),
    )


def _credit_referral(
    session: Session, referrer_id: int, friend_id: int, first_order_no: str, today: date
) -> PointsEntry:
    """Check the friend's first order and the monthly cap, then credit the referral points."""
    terms = rules.referral_terms(session)
    if referrer_id == friend_id:
        raise ReferralNotEligible("不能推荐自己")
    require_customer(session, referrer_id)
    friend = require_customer(session, friend_id)
    purchase = _first_order(session, friend, first_order_no)
    _check_first_order(session, purchase, friend, today, terms)
    line_key = referral_key(friend_id)

    def do(account: PointsAccount) -> PointsEntry:
        if _rewarded_friends(session, referrer_id, today) >= terms.monthly_cap_people:
            raise ReferralCapReached(
                f"每个自然月最多奖励 {terms.monthly_cap_people} 位推荐成功的好友，本月已满"
            )
        reason = f"推荐有礼：好友 {friend_id} 首单 {purchase.order_no}"
        expires = rules.expires_on(session, today)
        line = new_entry(
            "earn", terms.points, reason, REFERRAL + purchase.order_no, line_key, expires
        )
        return post(session, account, line)

    return once(session, referrer_id, line_key, lambda: find(session, line_key), do)


def _review_points(terms: rules.ReviewTerms, text_chars: int, with_photo: bool) -> tuple[int, str]:
    """A review's points and what earned them: a photo, else long enough text (not both)."""
    if with_photo:
        return terms.photo_points, "晒图评价"
    if text_chars >= terms.text_min_chars:
        return terms.text_points, "文字评价"
    raise ReviewNotEligible(f"评价文字不少于 {terms.text_min_chars} 字或附实拍图才有积分")


def _reviewed_line(session: Session, customer_id: int, order_no: str, sku: str) -> Purchase:
    """The member's purchase of `sku` on `order_no`; NotFound or ReviewNotEligible otherwise."""
    customer = require_customer(session, customer_id)
    purchase = get_by_order_no(session, order_no)
    if purchase is None:
        raise NotFound(f"没有订单 {order_no.strip()}")
    if not belongs_to(purchase, customer, None):
        raise ReviewNotEligible(f"订单 {purchase.order_no} 不是这位会员的订单")
    if purchase.sku.upper() != sku.strip().upper():
        raise ReviewNotEligible(f"订单 {purchase.order_no} 中没有商品 {sku.strip()}")
    return purchase


def _first_order(session: Session, friend: Customer, order_no: str) -> Purchase:
    """The friend's order `order_no`, which must be their first."""
    purchase = get_by_order_no(session, order_no)
    if purchase is None:
        raise NotFound(f"没有订单 {order_no.strip()}")
    if not belongs_to(purchase, friend, None):
        raise ReferralNotEligible(f"订单 {purchase.order_no} 不是好友的订单")
    earlier = [p for p in purchases_of(session, friend) if p.paid_at < purchase.paid_at]
    if earlier:
        raise ReferralNotEligible(f"订单 {purchase.order_no} 不是好友的首单")
    return purchase


def _check_first_order(
    session: Session,
    purchase: Purchase,
    friend: Customer,
    today: date,
    terms: rules.ReferralTerms,
) -> None:
    """ReferralNotEligible unless the order is large enough, in time, delivered long enough
    ago and not refunded."""
    if purchase.price_yuan < terms.first_order_min_yuan:
        raise ReferralNotEligible(f"好友首单实付须不低于 {terms.first_order_min_yuan} 元")
    registered = rules.local_date(friend.created_at)
    paid = rules.local_date(purchase.paid_at)
    if not registered <= paid <= registered + timedelta(days=terms.first_order_window_days):
        raise ReferralNotEligible(f"好友须在注册后 {terms.first_order_window_days} 天内完成首单")
    delivered = rules.local_date(purchase.delivered_at or purchase.paid_at)
    if today < delivered + timedelta(days=terms.paid_after_days):
        raise ReferralNotEligible(f"好友首单签收满 {terms.paid_after_days} 天且未退货后才发放奖励")
    refunded = session.scalar(
        select(func.count())
        .select_from(PointsEntry)
        .where(PointsEntry.kind == "reverse", PointsEntry.ref == purchase.order_no)
    )
    if refunded:
        raise ReferralNotEligible(f"好友首单 {purchase.order_no} 已退货，不发放推荐奖励")


def _credited_in_month(session: Session, customer_id: int, prefix: str, day: date) -> int:
    """Points of `prefix` entries credited to the member in `day`'s calendar month."""
    return int(
        session.scalar(_in_month(customer_id, prefix, day, func.sum(PointsEntry.amount))) or 0
    )


def _rewarded_friends(session: Session, referrer_id: int, day: date) -> int:
    """Friends the referrer was rewarded for in `day`'s calendar month."""
    return int(
        session.scalar(_in_month(referrer_id, REFERRAL, day, func.count(PointsEntry.id))) or 0
    )


def _in_month(
    customer_id: int, prefix: str, day: date, measure: ColumnElement[Any]
) -> Select[tuple[Any]]:
    """`measure` over the member's `prefix` reward entries created in `day`'s calendar month."""
    start, end = (moment.astimezone(UTC) for moment in rules.month_bounds(day))
    return select(measure).where(
        PointsEntry.customer_id == customer_id,
        PointsEntry.kind == "earn",
        PointsEntry.ref.startswith(prefix),
        PointsEntry.idempotency_key.startswith(prefix),
        PointsEntry.created_at >= start,
        PointsEntry.created_at < end,
    )
