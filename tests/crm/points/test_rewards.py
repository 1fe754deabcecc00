"""Review and referral points (PTS-EARN-003/004): eligibility, one award, monthly caps."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.errors import Conflict, NotFound
from crm.points import rules
from crm.points.errors import ReferralCapReached, ReferralNotEligible, ReviewNotEligible
from crm.points.models import PointsEntry
from crm.points.refunds import reverse_for_refund
from crm.points.rewards import award_referral, award_review
from crm.purchases.models import Purchase
from tests.crm.points.conftest import assert_consistent, bought, ledger_state, member

TODAY = rules.today()


def _key() -> str:
    return f"t-{secrets.token_hex(6)}"


def _days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def _review(
    db: Session,
    who: Customer,
    line: Purchase,
    chars: int = 20,
    photo: bool = False,
    reviewed_on: date = TODAY,
) -> PointsEntry | None:
    return award_review(db, who.id, line.order_no, line.sku, chars, photo, reviewed_on, _key())


def test_text_earns_the_text_points_and_a_photo_the_photo_points_not_both(db: Session) -> None:
    terms = rules.review_terms(db)
    who = member(db)
    text_line, photo_line = (
        bought(db, who, "100", _days_ago(3)),
        bought(db, who, "50", _days_ago(3)),
    )
    text = _review(db, who, text_line, chars=terms.text_min_chars)
    photo = _review(db, who, photo_line, chars=200, photo=True)
    assert text is not None and photo is not None
    assert (text.amount, photo.amount) == (terms.text_points, terms.photo_points)
    assert (text.kind, text.ref) == ("earn", f"review:{text_line.order_no}")
    assert text.expires_on == rules.expires_on(db, TODAY)
    assert assert_consistent(db, who.id) == terms.text_points + terms.photo_points


def test_too_short_without_a_photo_earns_nothing(db: Session) -> None:
    terms = rules.review_terms(db)
    who = member(db)
    line = bought(db, who, "100", _days_ago(3))
    with pytest.raises(ReviewNotEligible) as caught:
        _review(db, who, line, chars=terms.text_min_chars - 1)
    assert caught.value.status_code == 422
    assert f"不少于 {terms.text_min_chars} 字" in caught.value.detail
    assert ledger_state(db, who.id) == (0, 0, 0)
    assert _review(db, who, line, chars=0, photo=True) is not None  # a photo alone is enough


def test_the_window_counts_from_delivery_else_from_payment(db: Session) -> None:
    window = rules.review_terms(db).window_days
    who = member(db)
    store = bought(db, who, "100", _days_ago(window + 1))
    with pytest.raises(ReviewNotEligible, match=f"签收后 {window} 天内"):
        _review(db, who, store)
    with pytest.raises(ReviewNotEligible):
        _review(db, who, bought(db, who, "100", _days_ago(1)), reviewed_on=_days_ago(2))
    mall = bought(db, who, "100", _days_ago(window + 10))
    mall.source, mall.delivered_at = "mall", datetime.now(UTC) - timedelta(days=window)
    assert _review(db, who, mall) is not None
    assert ledger_state(db, who.id)[0] == 1


def test_only_the_members_own_line_can_be_reviewed(db: Session) -> None:
    owner, stranger = member(db), member(db)
    line = bought(db, owner, "100", _days_ago(2))
    with pytest.raises(ReviewNotEligible, match="不是这位会员的订单"):
        _review(db, stranger, line)
    with pytest.raises(ReviewNotEligible, match="没有商品"):
        award_review(db, owner.id, line.order_no, "XX-OTHER", 30, True, TODAY, _key())
    with pytest.raises(NotFound):
        award_review(db, owner.id, "NO-SUCH-ORDER", line.sku, 30, True, TODAY, _key())
    assert ledger_state(db, owner.id) == ledger_state(db, stranger.id) == (0, 0, 0)


def test_a_second_review_of_the_same_line_returns_the_first_award(db: Session) -> None:
    who = member(db)
    line = bought(db, who, "100", _days_ago(2))
    first = _review(db, who, line)
    again = _review(db, who, line, photo=True)
    assert first is not None and again is not None and again.id == first.id
    assert ledger_state(db, who.id) == (1, first.amount, first.amount)


def test_the_monthly_cap_credits_what_is_left_then_nothing(db: Session) -> None:
    terms = rules.review_terms(db)
    who = member(db)
    total = 0
    first = _review(db, who, bought(db, who, "10", _days_ago(1)))
    assert first is not None
    total += first.amount
    while terms.monthly_cap - total >= terms.photo_points:
        entry = _review(db, who, bought(db, who, "10", _days_ago(1)), photo=True)
        assert entry is not None and entry.amount == terms.photo_points
        total += entry.amount
    partial = _review(db, who, bought(db, who, "10", _days_ago(1)), photo=True)
    assert partial is not None and 0 < partial.amount == terms.monthly_cap - total
    assert f"上限 {terms.monthly_cap}" in partial.reason
    capped_line = bought(db, who, "10", _days_ago(1))
    assert _review(db, who, capped_line, photo=True) is None
    assert assert_consistent(db, who.id) == terms.monthly_cap
    assert (
        db.scalar(select(PointsEntry).where(PointsEntry.ref == f"review:{capped_line.order_no}"))
        is None
    )


def _friend_with_first_order(
    db: Session, yuan: str = "199", registered_days_ago: int = 20, paid_days_ago: int = 10
) -> tuple[Customer, Purchase]:
    friend = member(db)
    friend.created_at = datetime.now(UTC) - timedelta(days=registered_days_ago)
    return friend, bought(db, friend, yuan, _days_ago(paid_days_ago))


def _coupons_of(db: Session, customer_id: int) -> list[Coupon]:
    return list(db.scalars(select(Coupon).where(Coupon.customer_id == customer_id)))


def test_a_referral_credits_the_points_and_a_coupon_once_per_friend(db: Session) -> None:
    terms = rules.referral_terms(db)
    referrer = member(db)
    friend, first_order = _friend_with_first_order(db)
    reward = award_referral(db, referrer.id, friend.id, first_order.order_no, TODAY, _key())
    assert (reward.points, reward.first_order_no) == (terms.points, first_order.order_no)
    assert (reward.coupon.type_id, reward.coupon.customer_id) == ("CPN-TJ", referrer.id)
    assert assert_consistent(db, referrer.id) == terms.points
    again = award_referral(db, referrer.id, friend.id, first_order.order_no, TODAY, _key())
    assert again == reward
    assert ledger_state(db, referrer.id)[0] == 1
    assert [c.code for c in _coupons_of(db, referrer.id)] == [reward.coupon.code]
    with pytest.raises(Conflict):
        award_referral(db, member(db).id, friend.id, first_order.order_no, TODAY, _key())


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"yuan": "98.99"}, "不低于"),
        ({"registered_days_ago": 45, "paid_days_ago": 10}, "天内完成首单"),
        ({"paid_days_ago": 7}, "签收满"),
    ],
)
def test_a_friends_order_too_small_too_late_or_too_recent_is_refused(
    db: Session, change: dict[str, object], why: str
) -> None:
    referrer = member(db)
    friend, first_order = _friend_with_first_order(db, **change)  # type: ignore[arg-type]
    with pytest.raises(ReferralNotEligible, match=why):
        award_referral(db, referrer.id, friend.id, first_order.order_no, TODAY, _key())
    assert ledger_state(db, referrer.id) == (0, 0, 0)
    assert _coupons_of(db, referrer.id) == []


def test_a_refunded_second_or_own_order_earns_no_referral(db: Session) -> None:
    referrer = member(db)
    friend, first_order = _friend_with_first_order(db)
    second = bought(db, friend, "300", _days_ago(9))
    with pytest.raises(ReferralNotEligible, match="不是好友的首单"):
        award_referral(db, referrer.id, friend.id, second.order_no, TODAY, _key())
    with pytest.raises(ReferralNotEligible, match="不能推荐自己"):
        award_referral(db, friend.id, friend.id, first_order.order_no, TODAY, _key())
    reverse_for_refund(db, first_order.order_no, Decimal("10"), _key(), TODAY)
    with pytest.raises(ReferralNotEligible, match="已退货"):
        award_referral(db, referrer.id, friend.id, first_order.order_no, TODAY, _key())
    assert ledger_state(db, referrer.id) == (0, 0, 0)


def test_at_most_the_monthly_number_of_friends_is_rewarded(db: Session) -> None:
    terms = rules.referral_terms(db)
    referrer = member(db)
    for _ in range(terms.monthly_cap_people):
        friend, first_order = _friend_with_first_order(db)
        award_referral(db, referrer.id, friend.id, first_order.order_no, TODAY, _key())
    friend, first_order = _friend_with_first_order(db)
    with pytest.raises(ReferralCapReached) as caught:
        award_referral(db, referrer.id, friend.id, first_order.order_no, TODAY, _key())
    assert caught.value.status_code == 409
    assert assert_consistent(db, referrer.id) == terms.monthly_cap_people * terms.points
    coupons = db.scalar(select(func.count()).where(Coupon.customer_id == referrer.id))
    assert coupons == terms.monthly_cap_people
