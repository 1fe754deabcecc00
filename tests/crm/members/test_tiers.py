"""Tiers from the rolling 12-month spend with the real TIER-* thresholds (MEM-TIER-001..005)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm.members.service import progress, recompute_tier, rolling_spend, yuan_text
from crm.members.tiers import add_months, tier_table
from crm.points.refunds import reverse_for_refund
from tests.crm.points.conftest import bought, member, rule_data

TODAY = date(2026, 3, 9)


def test_the_tier_table_is_the_knowledge_bases(db: Session) -> None:
    table = tier_table(db)
    assert [(t.name, t.threshold_yuan, t.points_multiplier) for t in table] == [
        ("普通会员", Decimal("0"), Decimal("1.0")),
        ("银卡", Decimal("2000"), Decimal("1.2")),
        ("金卡", Decimal("8000"), Decimal("1.5")),
        ("钻石", Decimal("30000"), Decimal("2.0")),
    ]


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        ("1999.99", "普通会员"),
        ("2000.00", "银卡"),
        ("7999.99", "银卡"),
        ("8000.00", "金卡"),
        ("30000.00", "钻石"),  # straight from 普通会员: upgrades may skip tiers (MEM-TIER-003)
    ],
)
def test_reaching_a_threshold_upgrades_at_once(db: Session, spend: str, tier: str) -> None:
    customer = member(db)
    bought(db, customer, spend, date(2026, 3, 1))
    change = recompute_tier(db, customer, TODAY)
    assert (change.before, change.after, customer.tier) == ("普通会员", tier, tier)
    assert customer.tier_since == (TODAY if tier != "普通会员" else None)
    assert change.changed is (tier != "普通会员")


def test_the_window_is_the_last_twelve_months(db: Session) -> None:
    customer = member(db)
    bought(db, customer, "1500", add_months(TODAY, -12))  # just outside
    bought(db, customer, "1000", add_months(TODAY, -12).replace(day=10))  # just inside
    bought(db, customer, "700", TODAY)
    bought(db, customer, "9999", date(2026, 3, 10))  # tomorrow: not yet
    assert rolling_spend(db, customer, TODAY) == Decimal("1700")
    assert recompute_tier(db, customer, TODAY).after == "普通会员"


def test_refunds_recorded_on_the_ledger_are_deducted_from_spend(db: Session) -> None:
    customer = member(db)
    purchase = bought(db, customer, "2500", date(2026, 3, 1))
    reverse_for_refund(db, purchase.order_no, Decimal("600"), "tier-refund-1", TODAY)
    assert rolling_spend(db, customer, TODAY) == Decimal("1900")
    assert recompute_tier(db, customer, TODAY).after == "普通会员"


def test_an_upgrade_within_the_validity_restarts_it(db: Session) -> None:
    customer = member(db, tier="银卡", tier_since=date(2025, 9, 1))
    bought(db, customer, "8200", date(2026, 3, 1))
    change = recompute_tier(db, customer, TODAY)
    assert (change.after, change.since) == ("金卡", TODAY)


def test_the_tier_holds_until_its_validity_ends_then_follows_the_spend(db: Session) -> None:
    months = rule_data(db, "MEM-TIER-004")["tier_validity_months"]
    since = date(2025, 3, 1)
    customer = member(db, tier="金卡", tier_since=since)
    bought(db, customer, "2500", date(2025, 6, 1))
    last_day = add_months(since, months) - timedelta(days=1)
    assert recompute_tier(db, customer, last_day).after == "金卡"  # spend is low, still valid
    change = recompute_tier(db, customer, add_months(since, months))
    assert (change.before, change.after) == ("金卡", "银卡")
    assert change.since == date(2026, 3, 1) and "降为银卡" in change.reason


def test_a_downgrade_can_skip_tiers_and_the_base_tier_has_no_validity(db: Session) -> None:
    customer = member(db, tier="钻石", tier_since=date(2025, 3, 1))
    change = recompute_tier(db, customer, date(2026, 3, 5))
    assert (change.after, customer.tier_since) == ("普通会员", None)


def test_a_tier_kept_at_the_end_of_its_validity_starts_a_new_one(db: Session) -> None:
    customer = member(db, tier="金卡", tier_since=date(2025, 3, 1))
    bought(db, customer, "9000", date(2025, 12, 1))
    change = recompute_tier(db, customer, date(2026, 3, 3))
    assert (change.after, change.since, change.reason) == (
        "金卡",
        date(2026, 3, 1),
        "等级有效期到期，保级",
    )
    assert recompute_tier(db, customer, date(2026, 3, 4)).reason == "等级不变"


def test_a_tier_without_a_start_date_starts_its_validity_now(db: Session) -> None:
    customer = member(db, tier="金卡")
    assert recompute_tier(db, customer, TODAY).since == TODAY
    assert customer.tier == "金卡"


def test_a_refund_within_thirty_days_of_an_upgrade_re_rates(db: Session) -> None:
    days = rule_data(db, "MEM-TIER-005")["refund_recheck_days"]
    customer = member(db)
    big = bought(db, customer, "1500", date(2026, 3, 1))
    bought(db, customer, "600", date(2026, 3, 5))
    assert recompute_tier(db, customer, TODAY).after == "银卡"
    reverse_for_refund(db, big.order_no, Decimal("200"), "tier-refund-2", TODAY)
    change = recompute_tier(db, customer, TODAY + timedelta(days=days))
    assert (change.after, customer.tier_since) == ("普通会员", None)
    assert "退款" in change.reason


def test_after_thirty_days_a_refund_waits_for_the_end_of_the_validity(db: Session) -> None:
    days = rule_data(db, "MEM-TIER-005")["refund_recheck_days"]
    customer = member(db)
    big = bought(db, customer, "2100", date(2026, 3, 1))
    assert recompute_tier(db, customer, TODAY).after == "银卡"
    reverse_for_refund(db, big.order_no, Decimal("500"), "tier-refund-3", TODAY)
    assert recompute_tier(db, customer, TODAY + timedelta(days=days + 1)).after == "银卡"


def test_progress_names_the_next_tier_and_what_it_still_takes(db: Session) -> None:
    customer = member(db, tier="银卡", tier_since=date(2026, 1, 15))
    bought(db, customer, "5000", date(2026, 1, 15))
    bought(db, customer, "0.50", date(2026, 2, 1))
    result = progress(db, customer, TODAY)
    assert (result.tier, result.next_tier, result.to_next_yuan) == (
        "银卡",
        "金卡",
        Decimal("2999.50"),
    )
    assert result.message == "再消费 2999.50 元升级金卡"
    assert result.valid_until == date(2027, 1, 14)
    assert result.benefits == rule_data(db, "TIER-1")["benefits"]
    assert result.pending_upgrade is None


def test_progress_of_a_new_member_and_of_the_top_tier(db: Session) -> None:
    newcomer = member(db)
    result = progress(db, newcomer, TODAY)
    assert (result.message, result.valid_until) == ("再消费 2000 元升级银卡", None)
    assert result.benefits == rule_data(db, "TIER-0")["benefits"]
    top = member(db, tier="钻石", tier_since=TODAY)
    assert progress(db, top, TODAY).message == "您已是最高等级钻石"
    assert progress(db, top, TODAY).next_tier is None


def test_progress_says_when_a_reached_tier_will_apply(db: Session) -> None:
    customer = member(db)
    bought(db, customer, "8500", date(2026, 3, 8))
    result = progress(db, customer, TODAY)
    assert result.pending_upgrade == "金卡"
    assert result.message == "已达到金卡门槛，次日 02:00前自动升级；再消费 21500 元升级钻石"


def test_yuan_text() -> None:
    assert (yuan_text(Decimal("1200")), yuan_text(Decimal("1199.5"))) == ("1200", "1199.50")


def test_add_months_keeps_the_day_within_the_month() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 3, 9), -12) == date(2025, 3, 9)
