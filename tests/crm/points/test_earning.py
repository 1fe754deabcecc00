"""An order earns its points once: PTS-EARN-001 × tier × birthday month."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm.points.service import earn_for_purchase
from tests.crm.points.conftest import (
    assert_consistent,
    bought,
    ledger_state,
    member,
    rule_data,
    unique_phone,
)

TODAY = date(2026, 3, 9)


def test_the_rules_worked_example_for_every_tier_and_the_birthday_month(db: Session) -> None:
    example = rule_data(db, "PTS-EARN-001")["examples"][0]
    paid = re.sub(r"[^\d.]", "", example["case"])  # 实付 1,000 元
    for label, expected in example.items():
        if label == "case":
            continue
        tier = label.removesuffix("生日当月")
        birthday = date(1990, 3, 15) if label.endswith("生日当月") else date(1990, 7, 1)
        customer = member(db, tier=tier, birthday=birthday)
        entry = earn_for_purchase(db, bought(db, customer, paid, date(2026, 3, 1)), TODAY)
        assert entry.amount == expected, label
        assert assert_consistent(db, customer.id) == expected


def test_points_round_down_and_the_entry_says_why(db: Session) -> None:
    customer = member(db, tier="银卡")
    purchase = bought(db, customer, "99.99")
    entry = earn_for_purchase(db, purchase, TODAY)
    assert entry.amount == 119  # 99.99 × 1.2 = 119.988
    assert (entry.kind, entry.ref, entry.idempotency_key) == (
        "earn",
        purchase.order_no,
        f"earn:{purchase.order_no}",
    )
    assert "银卡" in entry.reason and "1.2" in entry.reason


def test_points_credited_in_a_year_expire_at_the_end_of_the_next(db: Session) -> None:
    customer = member(db)
    assert earn_for_purchase(db, bought(db, customer, "10"), date(2025, 6, 10)).expires_on == (
        date(2026, 12, 31)
    )
    assert earn_for_purchase(db, bought(db, customer, "10"), date(2025, 12, 31)).expires_on == (
        date(2026, 12, 31)
    )
    assert earn_for_purchase(db, bought(db, customer, "10"), date(2026, 1, 1)).expires_on == (
        date(2027, 12, 31)
    )


def test_the_birthday_month_is_the_payment_day_in_shanghai(db: Session) -> None:
    customer = member(db, birthday=date(1988, 3, 20))
    feb_utc_mar_local = datetime(2026, 2, 28, 17, 0, tzinfo=UTC)  # 03-01 01:00 in Shanghai
    assert (
        earn_for_purchase(db, bought(db, customer, "100", feb_utc_mar_local), TODAY).amount == 200
    )
    assert earn_for_purchase(db, bought(db, customer, "100", date(2026, 4, 1)), TODAY).amount == 100


def test_a_second_delivery_returns_the_first_credit_and_changes_nothing(db: Session) -> None:
    customer = member(db, tier="金卡")
    purchase = bought(db, customer, "200")
    first = earn_for_purchase(db, purchase, TODAY)
    customer.tier = "钻石"  # even when the tier changed since
    again = earn_for_purchase(db, purchase, date(2027, 1, 5))
    assert again.id == first.id and again.amount == 300
    assert ledger_state(db, customer.id) == (1, 300, 300)


def test_an_order_under_a_members_phone_is_credited_to_that_member(db: Session) -> None:
    phone = unique_phone()
    customer = member(db, phone=phone)
    entry = earn_for_purchase(db, bought(db, None, "50", phone=phone), TODAY)
    assert (entry.customer_id, entry.amount) == (customer.id, 50)


def test_an_order_without_a_member_earns_nothing(db: Session) -> None:
    purchase = bought(db, None, "50", phone=unique_phone())
    with pytest.raises(NotFound, match="没有关联会员"):
        earn_for_purchase(db, purchase, TODAY)


def test_a_tiny_order_records_zero_points_once(db: Session) -> None:
    customer = member(db)
    entry = earn_for_purchase(db, bought(db, customer, "0.50"), TODAY)
    assert entry.amount == 0
    assert ledger_state(db, customer.id) == (1, 0, 0)
