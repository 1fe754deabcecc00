"""Issuing: the coupon's face comes from its CPN-* rule, a key issues once, the member is told."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.coupons import service
from crm.coupons.models import Coupon
from crm.customers import service as customers
from crm.db import utcnow
from crm.errors import Conflict, InvalidInput, NotFound
from crm.outbox.models import OutboxItem
from tests.crm.coupons.conftest import TODAY, key, member, rule


def _yuan(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_a_new_member_coupon_has_the_rules_face_threshold_and_validity(db: Session) -> None:
    xr = rule(db, "CPN-XR")
    coupon = service.issue(db, member(db).id, "CPN-XR", key(), TODAY)
    assert (coupon.type_id, coupon.name, coupon.status) == ("CPN-XR", xr["name"], "issued")
    assert coupon.face_value_yuan == _yuan(xr["face_value_yuan"])
    assert coupon.threshold_yuan == _yuan(xr["threshold_yuan"])
    # 注册后 N 天内有效: the issue day is day 1.
    assert coupon.valid_from == TODAY
    assert coupon.valid_until == TODAY + timedelta(days=xr["validity_days"] - 1)
    assert len(coupon.code) == service.CODE_LENGTH
    assert set(coupon.code) <= set(service.CODE_ALPHABET)


@pytest.mark.parametrize("tier", ["普通会员", "银卡", "金卡", "钻石"])
def test_a_birthday_coupon_is_worth_what_the_tier_gets_and_lasts_the_month(
    db: Session, tier: str
) -> None:
    face = rule(db, "CPN-SR")["by_tier"][tier]
    coupon = service.issue(db, member(db, tier).id, "CPN-SR", key(), TODAY.replace(day=1))
    assert coupon.face_value_yuan == _yuan(face["face_value_yuan"])
    assert coupon.threshold_yuan == _yuan(face["threshold_yuan"])
    assert (coupon.valid_from, coupon.valid_until) == (TODAY.replace(day=1), TODAY.replace(day=31))


def test_a_spend_and_save_coupon_takes_the_face_of_the_chosen_threshold(db: Session) -> None:
    examples = rule(db, "CPN-MJ")["examples"]
    chosen = examples[-1]
    coupon = service.issue(
        db, member(db).id, "CPN-MJ", key(), TODAY, threshold_yuan=_yuan(chosen["threshold_yuan"])
    )
    assert coupon.face_value_yuan == _yuan(chosen["off_yuan"])
    assert coupon.threshold_yuan == _yuan(chosen["threshold_yuan"])
    with pytest.raises(InvalidInput, match="请指定券面门槛"):
        service.issue(db, member(db).id, "CPN-MJ", key(), TODAY)


def test_a_discount_coupon_carries_its_rate_and_cap(db: Session) -> None:
    zk = rule(db, "CPN-ZK")
    coupon = service.issue(db, member(db).id, "CPN-ZK", key(), TODAY)
    assert coupon.discount_rate == Decimal(str(zk["rate"]))
    assert coupon.max_discount_yuan == _yuan(zk["max_discount_yuan"])
    assert coupon.face_value_yuan is None and coupon.threshold_yuan == 0


@pytest.mark.parametrize("type_id", ["CPN-XX", "CPN-GEN-001", "MEM-ENR-001"])
def test_only_coupon_types_can_be_issued(db: Session, type_id: str) -> None:
    with pytest.raises(NotFound, match="没有这种优惠券类型"):
        service.issue(db, member(db).id, type_id, key(), TODAY)


def test_the_same_key_issues_one_coupon(db: Session) -> None:
    customer, same = member(db), key()
    first = service.issue(db, customer.id, "CPN-TJ", same, TODAY)
    again = service.issue(db, customer.id, "CPN-TJ", same, TODAY + timedelta(days=3))
    assert again.id == first.id and again.valid_from == TODAY
    count = db.scalar(select(func.count()).where(Coupon.idempotency_key == same))
    assert count == 1
    with pytest.raises(Conflict, match="幂等键"):
        service.issue(db, member(db).id, "CPN-TJ", same, TODAY)


def test_the_member_is_told_once_per_coupon(db: Session) -> None:
    settings = get_settings()
    identity = customers.resolve_identity(db, settings.wechat_oa_appid, "o-coupon-" + key())
    identity.subscribed = True
    identity.last_interaction_at = utcnow()
    same = key()
    coupon = service.issue(db, identity.customer_id, "CPN-TJ", same, TODAY)
    service.issue(db, identity.customer_id, "CPN-TJ", same, TODAY)
    items = list(
        db.scalars(
            select(OutboxItem).where(OutboxItem.idempotency_key.like(f"coupon:{coupon.code}:%"))
        )
    )
    assert len(items) == 1 and items[0].openid == identity.openid
    text = items[0].payload["text"]["content"]
    assert coupon.code in text and coupon.name in text


def test_list_valid_shows_the_members_usable_coupons_soonest_first(db: Session) -> None:
    customer = member(db)
    short = service.issue(db, customer.id, "CPN-ZK", key(), TODAY)  # 15 days
    long = service.issue(db, customer.id, "CPN-WX", key(), TODAY)  # 90 days
    old = service.issue(db, customer.id, "CPN-TJ", key(), TODAY - timedelta(days=400))
    used = service.issue(db, customer.id, "CPN-WX", key(), TODAY)
    service.redeem(db, used.code, customer.id, "RP-TEST-1", Decimal("50"), TODAY)
    service.issue(db, member(db).id, "CPN-WX", key(), TODAY)  # somebody else's
    assert [c.id for c in service.list_valid(db, customer.id, TODAY)] == [short.id, long.id]
    assert old.id not in [c.id for c in service.list_valid(db, customer.id, TODAY)]
