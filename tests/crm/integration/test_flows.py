"""The flows behind the integration API: orders earn once, refunds, till redemptions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import InvalidImport, NotFound
from crm.integration import flows
from crm.integration.schemas import MemberRef, PointsRedeemIn, PurchasesIn, RefundIn
from crm.points.errors import InsufficientPoints
from crm.points.models import PointsEntry
from tests.crm.integration.conftest import recent_order, unique_phone
from tests.crm.points.conftest import assert_consistent, ledger_state


def _member(db: Session, tier: str = "普通会员") -> Customer:
    customer = Customer(display_name="接入测试会员", phone=unique_phone(), tier=tier)
    db.add(customer)
    db.flush()
    return customer


def test_new_orders_earn_their_members_points_once_and_re_rate_them(db: Session) -> None:
    buyer, other = _member(db), _member(db)
    rows = [
        recent_order(member_phone=buyer.phone, price_yuan="1000.00"),
        recent_order(member_id=other.id, member_phone=None, price_yuan="88.80"),
        recent_order(member_phone=buyer.phone, price_yuan="6000.00"),
    ]
    result = flows.record_purchases(db, PurchasesIn(orders=rows))
    assert (result.created, result.unchanged, result.errors) == (3, 0, [])
    assert {(c.order_no, c.member_id, c.points) for c in result.credits} == {
        (rows[0]["order_no"], buyer.id, 1000),
        (rows[1]["order_no"], other.id, 88),
        (rows[2]["order_no"], buyer.id, 6000),
    }
    assert result.points_credited == 7088
    assert buyer.tier == "银卡"  # 7000 yuan in the window: upgraded at once
    again = flows.record_purchases(db, PurchasesIn(orders=rows))
    assert (again.created, again.unchanged, again.credits, again.points_credited) == (0, 3, [], 0)
    assert ledger_state(db, buyer.id) == (2, 7000, 7000)
    assert assert_consistent(db, other.id) == 88


def test_an_order_under_a_phone_no_member_has_is_imported_without_points(db: Session) -> None:
    row = recent_order(member_phone=unique_phone())
    result = flows.record_purchases(db, PurchasesIn(orders=[row]))
    assert (result.created, result.credits, result.points_credited) == (1, [], 0)


def test_a_bad_row_writes_and_credits_nothing(db: Session) -> None:
    buyer = _member(db)
    rows = [recent_order(member_phone=buyer.phone), recent_order(sku="XX-NOPE-1")]
    with pytest.raises(InvalidImport):
        flows.record_purchases(db, PurchasesIn(orders=rows))
    assert ledger_state(db, buyer.id) == (0, 0, 0)


def test_a_refund_takes_the_points_back_under_the_clients_key(db: Session) -> None:
    buyer = _member(db)
    row = recent_order(member_phone=buyer.phone, price_yuan="500.00")
    flows.record_purchases(db, PurchasesIn(orders=[row]))
    body = RefundIn(order_no=row["order_no"], refunded_yuan=Decimal("100.00"))
    key = flows.domain_key("pos-hz01", "R-1")
    result = flows.refund(db, key, body)
    assert (result.reversed_points, result.member_id, result.tier) == (100, buyer.id, "普通会员")
    assert flows.refund(db, key, body) == result  # the ledger's key: applied once
    assert ledger_state(db, buyer.id) == (2, 400, 400)
    entry = db.scalars(select(PointsEntry).where(PointsEntry.kind == "reverse")).all()
    assert key in {e.idempotency_key for e in entry}


def test_points_beyond_the_balance_are_refused_and_the_ledger_is_unchanged(db: Session) -> None:
    buyer = _member(db)
    flows.record_purchases(
        db, PurchasesIn(orders=[recent_order(member_phone=buyer.phone, price_yuan="1000.00")])
    )
    before = ledger_state(db, buyer.id)
    too_many = PointsRedeemIn(
        member_phone=buyer.phone, points=1100, order_no="T-PAY-1", order_yuan=Decimal("9000")
    )
    with pytest.raises(InsufficientPoints):
        flows.redeem_points(db, "c:k1", too_many)
    assert ledger_state(db, buyer.id) == before
    fits = too_many.model_copy(update={"points": 500})
    spent = flows.redeem_points(db, "c:k2", fits)
    assert (spent.points, spent.yuan, spent.balance) == (500, Decimal("5.00"), 500)


def test_a_member_is_found_by_id_or_bound_phone(db: Session) -> None:
    buyer = _member(db)
    assert flows.member_of(db, MemberRef(member_id=buyer.id)).id == buyer.id
    assert flows.member_of(db, MemberRef(member_phone=f"+86 {buyer.phone}")).id == buyer.id
    with pytest.raises(NotFound):
        flows.member_of(db, MemberRef(member_phone=unique_phone()))
    missing = db.scalar(select(func.max(Customer.id))) or 0
    with pytest.raises(NotFound):
        flows.member_of(db, MemberRef(member_id=missing + 1))


@pytest.mark.parametrize("given", [{}, {"member_id": 1, "member_phone": "13800000000"}])
def test_exactly_one_of_member_id_and_phone(given: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        MemberRef.model_validate(given)
