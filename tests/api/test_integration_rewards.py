"""Reviews and referrals through the integration API: credited once, replays identical."""

from __future__ import annotations

from datetime import datetime, timedelta

from crm.customers.models import Customer
from crm.db import session_scope
from crm.points import rules
from crm.purchases.schemas import SHANGHAI
from tests.api.test_integration import Send, _client, _key, _ledger, _member, send
from tests.crm.integration.conftest import recent_order
from tests.crm.purchases.conftest import order, unique_order_no

__all__ = ["send"]  # the fixture, shared with the other integration API tests


def test_a_review_is_credited_once_per_line_and_a_retry_gets_the_same_response(
    send: Send,
) -> None:
    member_id, phone = _member()
    row = recent_order(member_phone=phone, price_yuan="100.00")
    assert send("/purchases", {"orders": [row]}, _key()).json()["points_credited"] == 100
    review = {
        "member_phone": phone,
        "order_no": row["order_no"],
        "sku": row["sku"],
        "text_chars": 30,
        "with_photo": True,
        "reviewed_on": str(rules.today()),
    }
    no_scope = send("/reviews", review, _key(), key=_client(["purchases:write"]))
    assert (no_scope.status_code, no_scope.json()["error"]) == (403, "Forbidden")
    idem = _key()
    first = send("/reviews", review, idem)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "member_id": member_id,
        "order_no": row["order_no"],
        "sku": row["sku"],
        "points": 20,
        "already_rewarded": False,
        "balance": 120,
    }
    retry = send("/reviews", review, idem)
    assert (retry.content, retry.headers["Idempotent-Replayed"]) == (first.content, "true")
    second = send("/reviews", {**review, "with_photo": False}, _key())
    assert (second.json()["points"], second.json()["already_rewarded"]) == (20, True)
    assert _ledger(member_id) == (2, 120)
    short = {**review, "order_no": unique_order_no(), "with_photo": False, "text_chars": 3}
    assert send("/reviews", short, _key()).status_code == 404
    _, phone_2 = _member()
    other = recent_order(member_phone=phone_2)
    send("/purchases", {"orders": [other]}, _key())
    refused = send(
        "/reviews", {**short, "member_phone": phone_2, "order_no": other["order_no"]}, _key()
    )
    assert (refused.status_code, refused.json()["error"]) == (422, "ReviewNotEligible")


def test_a_referral_pays_points_and_a_coupon_once_and_a_retry_gets_the_same_response(
    send: Send,
) -> None:
    referrer_id, _ = _member()
    friend_id, friend_phone = _member()
    with session_scope() as session:
        friend = session.get(Customer, friend_id)
        assert friend is not None
        friend.created_at = datetime.now(SHANGHAI) - timedelta(days=20)
    paid = (datetime.now(SHANGHAI) - timedelta(days=10)).strftime("%Y-%m-%d %H:%M:%S")
    row = order(member_phone=friend_phone, price_yuan="199.00", paid_at=paid)
    assert send("/purchases", {"orders": [row]}, _key()).is_success
    referral = {
        "referrer_id": referrer_id,
        "friend_id": friend_id,
        "first_order_no": row["order_no"],
    }
    idem = _key()
    first = send("/referrals", referral, idem)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["points"], body["first_order_no"]) == (200, row["order_no"])
    assert (body["coupon"]["type_id"], body["coupon"]["customer_id"]) == ("CPN-TJ", referrer_id)
    retry = send("/referrals", referral, idem)
    assert (retry.content, retry.headers["Idempotent-Replayed"]) == (first.content, "true")
    assert send("/referrals", referral, _key()).json() == body
    assert _ledger(referrer_id) == (1, 200)
    other_referrer, _ = _member()
    claimed = send("/referrals", {**referral, "referrer_id": other_referrer}, _key())
    assert (claimed.status_code, claimed.json()["error"]) == (409, "Conflict")
    assert _ledger(other_referrer) == (0, 0)
