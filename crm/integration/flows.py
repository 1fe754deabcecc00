"""Named flows behind the integration API: order paid → points → tier; refund → points → tier;
coupon and points used at the till; review and referral rewards from the mall. Each runs inside
the caller's unit of work (flush only)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.coupons import service as coupons
from crm.coupons.schemas import Redemption
from crm.customers.models import Customer
from crm.errors import NotFound
from crm.integration.schemas import (
    CouponRedeemIn,
    MemberRef,
    PointsCredit,
    PointsRedeemed,
    PointsRedeemIn,
    PurchasesIn,
    PurchasesResult,
    ReferralIn,
    RefundIn,
    RefundResult,
    ReviewIn,
    ReviewResult,
)
from crm.members.service import recompute_tier
from crm.points import rewards, rules
from crm.points import service as points
from crm.points.ledger import find, require_customer
from crm.points.refunds import reverse_for_refund
from crm.points.schemas import ReferralReward
from crm.privacy.crypto import phone_digest
from crm.privacy.masking import mask_phone
from crm.purchases.service import import_new_purchases


def domain_key(client_name: str, idempotency_key: str) -> str:
    """The ledger's key for a client's request: clients' own keys never collide."""
    return f"{client_name}:{idempotency_key}"


def member_of(session: Session, ref: MemberRef) -> Customer:
    """The member named by id or by bound phone, or NotFound."""
    if ref.member_id is not None:
        return require_customer(session, ref.member_id)
    digest = phone_digest(ref.member_phone)
    found = session.scalars(select(Customer).where(Customer.phone_hash == digest)).first()
    if found is None:
        raise NotFound(f"没有绑定手机号 {mask_phone(ref.member_phone)} 的会员")
    return found


def record_purchases(
    session: Session, body: PurchasesIn, today: date | None = None
) -> PurchasesResult:
    """Import the orders; credit each new one's points once and re-rate its member."""
    day = today or rules.today()
    report, added = import_new_purchases(session, body.orders)
    owned = []
    for purchase in added:
        try:
            owned.append((points.owner_of(session, purchase), purchase))
        except NotFound:
            continue  # a phone no member has bound yet: no account to credit
    # Member by member, so that two imports lock the same accounts in the same order.
    owned.sort(key=lambda pair: (pair[0].id, pair[1].order_no))
    credits = [
        PointsCredit(
            order_no=purchase.order_no,
            member_id=owner.id,
            points=points.earn_for_purchase(session, purchase, day).amount,
        )
        for owner, purchase in owned
    ]
    for owner in {owner.id: owner for owner, _ in owned}.values():
        recompute_tier(session, owner, day)
    return PurchasesResult(
        **report.model_dump(),
        credits=credits,
        points_credited=sum(credit.points for credit in credits),
    )


def refund(session: Session, key: str, body: RefundIn, today: date | None = None) -> RefundResult:
    """Apply the refund to the order's points under `key` and re-rate the member."""
    day = today or rules.today()
    result = reverse_for_refund(session, body.order_no, body.refunded_yuan, key, day)
    entry = find(session, key)
    assert entry is not None  # written (or found) by reverse_for_refund under this key
    member = require_customer(session, entry.customer_id)
    change = recompute_tier(session, member, day)
    return RefundResult(**result.model_dump(), member_id=member.id, tier=change.after)


def redeem_coupon(session: Session, body: CouponRedeemIn, today: date | None = None) -> Redemption:
    """Use the member's coupon on the order (one coupon, one use)."""
    member = member_of(session, body)
    day = today or rules.today()
    return coupons.redeem(session, body.code, member.id, body.order_no, body.order_amount, day)


def redeem_points(session: Session, key: str, body: PointsRedeemIn) -> PointsRedeemed:
    """Spend the member's points on the order under `key`; InsufficientPoints beyond the balance."""
    member = member_of(session, body)
    entry = points.redeem(session, member.id, body.points, body.order_no, key, body.order_yuan)
    terms = rules.redemption(session)
    return PointsRedeemed(
        member_id=member.id,
        order_no=body.order_no,
        points=-entry.amount,
        yuan=rules.points_to_yuan(-entry.amount, terms),
        balance=points.balance(session, member.id),
    )


def reward_review(session: Session, key: str, body: ReviewIn) -> ReviewResult:
    """Credit the member's review of an order line once (PTS-EARN-003, monthly cap)."""
    member = member_of(session, body)
    before = find(session, rewards.review_key(body.order_no, body.sku))
    entry = rewards.award_review(
        session,
        member.id,
        body.order_no,
        body.sku,
        body.text_chars,
        body.with_photo,
        body.reviewed_on,
        key,
    )
    return ReviewResult(
        member_id=member.id,
        order_no=body.order_no,
        sku=body.sku,
        points=entry.amount if entry else 0,
        already_rewarded=before is not None,
        balance=points.balance(session, member.id),
    )


def reward_referral(
    session: Session, key: str, body: ReferralIn, today: date | None = None
) -> ReferralReward:
    """Reward the referrer of the friend's first order once: points and a CPN-TJ coupon."""
    day = today or rules.today()
    return rewards.award_referral(
        session, body.referrer_id, body.friend_id, body.first_order_no, day, key
    )
