"""Spending, staff adjustments and reading the ledger: every refusal leaves it as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm.errors import Conflict, InvalidInput, NotFound
from crm.points.errors import InsufficientPoints
from crm.points.models import PointsAccount
from crm.points.service import (
    adjust,
    balance,
    earn_for_purchase,
    expiring_soon,
    ledger_page,
    max_redeemable,
    redeem,
)
from tests.crm.points.conftest import assert_consistent, bought, ledger_state, member

TODAY = date(2026, 3, 9)


def _with_points(db: Session, points: int, on: date = TODAY) -> int:
    customer = member(db)
    adjust(db, customer.id, points, "开户赠送", "测试店员", f"seed-{customer.id}", on)
    return customer.id


def test_redeem_spends_points_and_a_repeat_returns_the_first_result(db: Session) -> None:
    cid = _with_points(db, 1000)
    first = redeem(db, cid, 300, "ORDER-1", "pay-ORDER-1")
    assert (first.amount, first.kind, first.ref, first.reason) == (
        -300,
        "redeem",
        "ORDER-1",
        "积分抵扣 3.00 元",
    )
    assert first.expires_on is None
    again = redeem(db, cid, 300, "ORDER-1", "pay-ORDER-1")
    assert again.id == first.id
    assert ledger_state(db, cid) == (2, 700, 700)
    assert balance(db, cid) == 700


def test_redeeming_more_than_the_balance_is_refused_and_changes_nothing(db: Session) -> None:
    cid = _with_points(db, 500)
    before = ledger_state(db, cid)
    with pytest.raises(InsufficientPoints, match="可用 500 积分，需要 600 积分") as caught:
        redeem(db, cid, 600, "ORDER-2", "pay-ORDER-2")
    assert caught.value.status_code == 409
    assert caught.value.body()["error"] == "InsufficientPoints"
    assert ledger_state(db, cid) == before
    # The refused key was not spent: the same key works once the balance covers it.
    adjust(db, cid, 100, "补发", "测试店员", f"top-up-{cid}", TODAY)
    assert redeem(db, cid, 600, "ORDER-2", "pay-ORDER-2").amount == -600
    assert assert_consistent(db, cid) == 0


@pytest.mark.parametrize(
    ("points", "order_yuan", "problem"),
    [
        (0, None, "单位"),
        (-100, None, "单位"),
        (150, None, "单位"),  # PTS-USE-001: in units of 100
        (10_100, Decimal("500"), "最多可用 10000 积分"),  # 20 % of 500 yuan
    ],
)
def test_redeem_refuses_amounts_the_rule_does_not_allow(
    db: Session, points: int, order_yuan: Decimal | None, problem: str
) -> None:
    cid = _with_points(db, 50_000)
    before = ledger_state(db, cid)
    with pytest.raises(InvalidInput, match=problem) as caught:
        redeem(db, cid, points, "ORDER-3", "pay-ORDER-3", order_yuan=order_yuan)
    assert caught.value.status_code == 422
    assert ledger_state(db, cid) == before


def test_the_rules_own_cap_example_is_allowed(db: Session) -> None:
    cid = _with_points(db, 50_000)
    assert redeem(db, cid, 10_000, "ORDER-4", "pay-ORDER-4", order_yuan=Decimal("500")).amount
    assert max_redeemable(db, cid, Decimal("500")) == 10_000
    assert max_redeemable(db, cid, Decimal("99.99")) == 1900  # 1999.8 → whole hundreds


def test_max_redeemable_is_bounded_by_the_balance_in_whole_units(db: Session) -> None:
    cid = _with_points(db, 1_250)
    assert max_redeemable(db, cid, Decimal("10000")) == 1_200


def test_a_key_reused_for_another_amount_or_member_is_a_conflict(db: Session) -> None:
    cid, other = _with_points(db, 1000), _with_points(db, 1000)
    redeem(db, cid, 100, "ORDER-5", "pay-ORDER-5")
    for call in (
        lambda: redeem(db, cid, 200, "ORDER-5", "pay-ORDER-5"),
        lambda: redeem(db, other, 100, "ORDER-5", "pay-ORDER-5"),
        lambda: adjust(db, cid, 100, "补发", "测试店员", "pay-ORDER-5"),
    ):
        with pytest.raises(Conflict):
            call()
    assert ledger_state(db, cid) == (2, 900, 900)
    assert ledger_state(db, other) == (1, 1000, 1000)


def test_adjust_credits_with_an_expiry_and_debits_within_the_balance(db: Session) -> None:
    cid = _with_points(db, 300, date(2025, 5, 1))
    credit = adjust(db, cid, 200, "活动补发", "王店长", "adj-1", date(2026, 2, 1))
    debit = adjust(db, cid, -150, "误发收回", "王店长", "adj-2")
    assert (credit.expires_on, credit.ref, credit.reason) == (
        date(2027, 12, 31),
        "王店长",
        "活动补发",
    )
    assert (debit.amount, debit.expires_on) == (-150, None)
    assert adjust(db, cid, -150, "误发收回", "王店长", "adj-2").id == debit.id
    with pytest.raises(InsufficientPoints):
        adjust(db, cid, -351, "误发收回", "王店长", "adj-3")
    assert assert_consistent(db, cid) == 350


@pytest.mark.parametrize(
    ("amount", "reason", "staff", "key"),
    [
        (0, "原因", "店员", "k-0"),
        (10, " ", "店员", "k-1"),
        (10, "原因", "", "k-2"),
        (10, "原因", "店员", ""),
    ],
)
def test_adjust_refuses_bad_input(
    db: Session, amount: int, reason: str, staff: str, key: str
) -> None:
    cid = _with_points(db, 100)
    with pytest.raises(InvalidInput):
        adjust(db, cid, amount, reason, staff, key)
    assert ledger_state(db, cid) == (1, 100, 100)


UNKNOWN = 987_654_321
CALLS: list[Callable[[Session], Any]] = [
    lambda db: redeem(db, UNKNOWN, 100, "O", "k-unknown-1"),
    lambda db: adjust(db, UNKNOWN, 100, "原因", "店员", "k-unknown-2"),
    lambda db: balance(db, UNKNOWN),
    lambda db: expiring_soon(db, UNKNOWN, 30, TODAY),
    lambda db: ledger_page(db, UNKNOWN),
]


@pytest.mark.parametrize("call", CALLS)
def test_an_unknown_member_is_not_found(db: Session, call: Callable[[Session], Any]) -> None:
    with pytest.raises(NotFound, match=str(UNKNOWN)):
        call(db)
    assert db.get(PointsAccount, UNKNOWN) is None


def test_keys_must_be_given_and_short(db: Session) -> None:
    cid = _with_points(db, 1000)
    for key in ("", "   ", "k" * 129):
        with pytest.raises(InvalidInput, match="幂等键"):
            redeem(db, cid, 100, "O", key)
    assert ledger_state(db, cid) == (1, 1000, 1000)


def test_the_ledger_reads_newest_first_in_pages(db: Session) -> None:
    cid = _with_points(db, 10_000)
    for n in range(24):
        redeem(db, cid, 100, f"ORDER-{n}", f"page-{cid}-{n}")
    page = ledger_page(db, cid, page=2, size=10)
    assert (page.total, page.page, page.size, len(page.items)) == (25, 2, 10, 10)
    assert [item.ref for item in page.items] == [f"ORDER-{n}" for n in range(13, 3, -1)]
    last = ledger_page(db, cid, page=3, size=10)
    assert [item.kind for item in last.items][-1] == "adjust" and len(last.items) == 5
    for page_no, size in ((0, 10), (1, 0), (1, 101)):
        with pytest.raises(InvalidInput):
            ledger_page(db, cid, page_no, size)


def test_expiring_soon_lists_open_points_by_their_last_day(db: Session) -> None:
    customer = member(db)
    earn_for_purchase(db, bought(db, customer, "800"), date(2025, 4, 1))  # until 2026-12-31
    earn_for_purchase(db, bought(db, customer, "300"), date(2026, 4, 1))  # until 2027-12-31
    redeem(db, customer.id, 500, "ORDER-6", f"soon-{customer.id}")  # spends 2025's first
    assert expiring_soon(db, customer.id, None, date(2026, 11, 30)) == []
    soon = expiring_soon(db, customer.id, None, date(2026, 12, 1))  # PTS-EXP-001: 30 days
    assert [(s.expires_on, s.points) for s in soon] == [(date(2026, 12, 31), 300)]
    later = expiring_soon(db, customer.id, 400, date(2026, 12, 1))
    assert [s.points for s in later] == [300, 300]
    with pytest.raises(InvalidInput):
        expiring_soon(db, customer.id, -1, TODAY)
