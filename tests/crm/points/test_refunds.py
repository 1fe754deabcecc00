"""PTS-REF-001: a refund takes back the order's points in proportion, gives back the points
spent on it (not those already expired), and what the balance lacks comes off the refund."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import Conflict, InvalidInput, NotFound
from crm.points.models import PointsEntry
from crm.points.refunds import reverse_for_refund
from crm.points.service import adjust, earn_for_purchase, redeem
from tests.crm.points.conftest import assert_consistent, bought, ledger_state, member

TODAY = date(2026, 3, 20)


def test_partial_refunds_take_back_in_proportion_and_add_up_to_all(db: Session) -> None:
    customer = member(db, tier="金卡")
    purchase = bought(db, customer, "1000")
    earn_for_purchase(db, purchase, TODAY)  # 1500
    first = reverse_for_refund(db, purchase.order_no, Decimal("333.33"), "refund-1", TODAY)
    assert (first.reversed_points, first.shortfall_points, first.returned_points) == (499, 0, 0)
    second = reverse_for_refund(db, purchase.order_no, Decimal("666.67"), "refund-2", TODAY)
    assert second.reversed_points == 1001
    assert assert_consistent(db, customer.id) == 0
    line = db.scalars(select(PointsEntry).where(PointsEntry.idempotency_key == "refund-2")).one()
    assert (line.kind, line.ref, line.yuan) == ("reverse", purchase.order_no, Decimal("666.67"))


def test_what_the_balance_cannot_cover_is_deducted_from_the_refund(db: Session) -> None:
    customer = member(db)
    purchase = bought(db, customer, "1000")
    earn_for_purchase(db, purchase, TODAY)  # 1000
    redeem(db, customer.id, 900, "OTHER-ORDER", f"spend-{customer.id}")
    result = reverse_for_refund(db, purchase.order_no, Decimal("1000"), "refund-3", TODAY)
    assert (result.reversed_points, result.shortfall_points) == (100, 900)
    assert result.deduct_from_refund_yuan == Decimal("9.00")  # 100 points = 1 yuan
    assert assert_consistent(db, customer.id) == 0


def test_points_spent_on_the_order_come_back_with_their_expiry(db: Session) -> None:
    customer = member(db)
    adjust(db, customer.id, 2000, "开户赠送", "店员", f"seed-{customer.id}", date(2025, 5, 1))
    purchase = bought(db, customer, "400")
    redeem(db, customer.id, 800, purchase.order_no, f"pay-{purchase.order_no}", Decimal("400"))
    earn_for_purchase(db, purchase, TODAY)  # 400, until 2027-12-31
    result = reverse_for_refund(db, purchase.order_no, Decimal("100"), "refund-4", TODAY)
    assert (result.returned_points, result.reversed_points) == (200, 100)  # a quarter of each
    returned = db.scalars(select(PointsEntry).where(PointsEntry.kind == "return")).all()
    assert [(r.amount, r.expires_on, r.ref) for r in returned if r.customer_id == customer.id] == [
        (200, date(2026, 12, 31), purchase.order_no)
    ]
    rest = reverse_for_refund(db, purchase.order_no, Decimal("300"), "refund-5", TODAY)
    assert (rest.returned_points, rest.reversed_points) == (600, 300)
    assert assert_consistent(db, customer.id) == 2000


def test_spent_points_that_have_expired_meanwhile_are_not_returned(db: Session) -> None:
    customer = member(db)
    adjust(db, customer.id, 1000, "开户赠送", "店员", f"seed-{customer.id}", date(2025, 5, 1))
    purchase = bought(db, customer, "500")
    redeem(db, customer.id, 1000, purchase.order_no, f"pay-{purchase.order_no}")
    late = reverse_for_refund(db, purchase.order_no, Decimal("500"), "refund-6", date(2027, 1, 2))
    assert (late.returned_points, late.reversed_points, late.shortfall_points) == (0, 0, 0)
    assert assert_consistent(db, customer.id) == 0


def test_a_refund_before_the_points_are_credited_lowers_what_they_are_earned_on(
    db: Session,
) -> None:
    customer = member(db)
    purchase = bought(db, customer, "1000")
    early = reverse_for_refund(db, purchase.order_no, Decimal("400"), "refund-7", TODAY)
    assert (early.reversed_points, early.shortfall_points) == (0, 0)
    assert earn_for_purchase(db, purchase, TODAY).amount == 600
    later = reverse_for_refund(db, purchase.order_no, Decimal("600"), "refund-8", TODAY)
    assert later.reversed_points == 600
    assert assert_consistent(db, customer.id) == 0


def test_a_repeated_refund_returns_the_first_result_and_changes_nothing(db: Session) -> None:
    customer = member(db)
    adjust(db, customer.id, 500, "开户赠送", "店员", f"seed-{customer.id}", TODAY)
    purchase = bought(db, customer, "200")
    redeem(db, customer.id, 400, purchase.order_no, f"pay-{purchase.order_no}")
    earn_for_purchase(db, purchase, TODAY)
    first = reverse_for_refund(db, purchase.order_no, Decimal("100"), "refund-9", TODAY)
    state = ledger_state(db, customer.id)
    assert reverse_for_refund(db, purchase.order_no, Decimal("100"), "refund-9", TODAY) == first
    assert ledger_state(db, customer.id) == state
    with pytest.raises(Conflict):
        reverse_for_refund(db, purchase.order_no, Decimal("50"), "refund-9", TODAY)
    assert ledger_state(db, customer.id) == state


@pytest.mark.parametrize(
    ("yuan", "error"),
    [
        (Decimal("0"), InvalidInput),
        (Decimal("-5"), InvalidInput),
        (Decimal("10.005"), InvalidInput),
        (Decimal("200.01"), InvalidInput),  # more than was paid
    ],
)
def test_bad_refunds_are_refused_and_change_nothing(
    db: Session, yuan: Decimal, error: type[Exception]
) -> None:
    customer = member(db)
    purchase = bought(db, customer, "200")
    earn_for_purchase(db, purchase, TODAY)
    with pytest.raises(error):
        reverse_for_refund(db, purchase.order_no, yuan, f"bad-{yuan}", TODAY)
    assert ledger_state(db, customer.id) == (1, 200, 200)


def test_refunding_more_than_what_is_left_is_refused(db: Session) -> None:
    customer = member(db)
    purchase = bought(db, customer, "200")
    reverse_for_refund(db, purchase.order_no, Decimal("150"), "refund-10", TODAY)
    with pytest.raises(InvalidInput, match=r"已退 150\.00 元"):
        reverse_for_refund(db, purchase.order_no, Decimal("60"), "refund-11", TODAY)


def test_an_unknown_order_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound, match="NO-SUCH-ORDER"):
        reverse_for_refund(db, "NO-SUCH-ORDER", Decimal("10"), "refund-12", TODAY)
