"""Warranty decisions follow POL-WAR-001..013 of the shipped knowledge base."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from crm.tickets.periods import add_months, period_end
from crm.tickets.warranty import WarrantyDecision, decide, start_from_serial, warranty_start

Rules = dict[str, dict[str, Any]]
Products = dict[str, dict[str, Any]]


def _decide(
    products: Products,
    rules: Rules,
    sku: str,
    start: date | None,
    today: date,
    fault: str = "不转了",
    tier: str = "普通会员",
    exclusions: tuple[str, ...] = (),
) -> WarrantyDecision:
    return decide(products[sku], start, today, tier, fault, exclusions, rules)


@pytest.mark.parametrize(
    ("today", "covered"), [(date(2026, 3, 1), True), (date(2026, 3, 2), False)]
)
def test_home_series_covers_twelve_months_to_the_day(
    products: Products, rules: Rules, today: date, covered: bool
) -> None:
    decision = _decide(products, rules, "RG-AG-100", date(2025, 3, 2), today)
    assert decision.in_warranty is covered
    assert decision.ends == date(2026, 3, 1)
    assert decision.rule_ids[0] == "POL-WAR-001"
    assert "锐工家用系列整机保修 12 个月" in decision.reason
    assert "2025-03-02" in decision.reason and "2026-03-01" in decision.reason
    assert (decision.fee is None) is covered


def test_professional_motor_fault_in_month_18_is_covered_for_the_motor_only(
    products: Products, rules: Rules
) -> None:
    decision = _decide(
        products, rules, "RG-DR-20BL", date(2024, 1, 10), date(2025, 7, 10), "电机烧了，冒烟"
    )
    assert decision.in_warranty
    assert decision.ends == date(2026, 1, 9)
    assert decision.rule_ids[:2] == ["POL-WAR-002", "POL-WAR-013"]
    assert "整机保修已于 2025-01-09 到期" in decision.reason
    assert "电机保修 24 个月至 2026-01-09" in decision.reason
    assert "免费更换电机并免工时费" in decision.reason
    assert decision.fee is not None and decision.fee.inspection_yuan == 0
    assert "其他部件如需维修" in decision.fee.text()


@pytest.mark.parametrize("fault", ["开关坏了，按下去没反应", "开关烧了", "电机没问题，夹头松了"])
def test_professional_other_fault_in_month_18_pays_out_of_warranty(
    products: Products, rules: Rules, fault: str
) -> None:
    decision = _decide(products, rules, "RG-DR-20BL", date(2024, 1, 10), date(2025, 7, 10), fault)
    assert not decision.in_warranty
    assert decision.ends == date(2025, 1, 9)
    assert "本次故障不涉及电机" in decision.reason
    assert decision.fee is not None
    assert (decision.fee.inspection_yuan, decision.fee.labour_yuan) == (30, 40)


def test_professional_motor_fault_after_24_months_is_not_covered(
    products: Products, rules: Rules
) -> None:
    decision = _decide(
        products, rules, "RG-ID-20BL", date(2023, 1, 10), date(2025, 1, 10), "马达坏了"
    )
    assert not decision.in_warranty
    assert decision.ends == date(2025, 1, 9)
    assert "也已到期" in decision.reason


@pytest.mark.parametrize(
    ("sku", "today", "covered"),
    [
        ("RG-DR-12", date(2025, 6, 10), True),  # month 5
        ("RG-DR-12", date(2025, 8, 20), False),  # month 7
        ("DC-JZ20-KIT", date(2025, 6, 10), True),
        ("DC-JZ20-KIT", date(2025, 8, 20), False),
    ],
)
def test_kit_battery_fault_follows_the_six_months_of_batteries(
    products: Products, rules: Rules, sku: str, today: date, covered: bool
) -> None:
    decision = _decide(products, rules, sku, date(2025, 1, 15), today, "电池充不进电")
    assert decision.in_warranty is covered
    assert decision.ends == date(2025, 7, 14)
    assert decision.rule_ids[0] == "POL-WAR-004"
    assert "套装随附的电池和充电器保修 6 个月" in decision.reason
    assert decision.remedy == ("免费换新" if covered else None)


def test_kit_tool_fault_in_month_7_is_still_under_the_tool_warranty(
    products: Products, rules: Rules
) -> None:
    decision = _decide(
        products, rules, "RG-DR-12", date(2025, 1, 15), date(2025, 8, 20), "夹头打滑"
    )
    assert decision.in_warranty and decision.rule_ids == ["POL-WAR-001"]


@pytest.mark.parametrize(
    ("today", "covered"), [(date(2025, 6, 30), True), (date(2025, 7, 1), False)]
)
def test_standalone_battery_is_replaced_within_six_months(
    products: Products, rules: Rules, today: date, covered: bool
) -> None:
    decision = _decide(products, rules, "RG-BP-20-40", date(2025, 1, 1), today, "充满后很快没电")
    assert decision.in_warranty is covered
    assert decision.ends == date(2025, 6, 30)
    assert "低于标称 70%" in decision.reason if covered else "不做拆修" in decision.reason
    if not covered:
        assert decision.fee is not None and not decision.fee.repairable
        assert "立减 30 元" in decision.fee.text()


def test_hand_tools_are_replaced_piece_by_piece_for_24_months(
    products: Products, rules: Rules
) -> None:
    decision = _decide(
        products, rules, "RG-SD-SET46", date(2024, 1, 1), date(2025, 9, 1), "批头断了"
    )
    assert decision.in_warranty and decision.remedy == "单件换新"
    assert decision.ends == date(2025, 12, 31)
    assert "整机" not in decision.reason
    late = _decide(products, rules, "ST-WR-SET14", date(2023, 1, 1), date(2025, 2, 1), "扳手裂了")
    assert not late.in_warranty and "不再免费换新" in late.reason
    assert late.fee is not None and "手动工具不提供维修" in late.fee.text()


@pytest.mark.parametrize(
    ("today", "covered"), [(date(2025, 5, 15), True), (date(2025, 5, 16), False)]
)
def test_consumables_only_for_quality_faults_within_15_days(
    products: Products, rules: Rules, today: date, covered: bool
) -> None:
    decision = _decide(products, rules, "RG-CD-100", date(2025, 5, 1), today, "开箱就裂了")
    assert decision.in_warranty is covered
    assert decision.ends == date(2025, 5, 15)
    assert decision.rule_ids[0] == "POL-WAR-008"
    assert decision.remedy == ("免费换新" if covered else None)


def test_wear_parts_within_warranty_cost_parts_only(products: Products, rules: Rules) -> None:
    decision = _decide(
        products, rules, "RG-AG-100", date(2025, 1, 1), date(2025, 7, 1), "碳刷磨没了"
    )
    assert not decision.in_warranty and "POL-WAR-009" in decision.rule_ids
    assert decision.fee is not None and decision.fee.labour_yuan == 0
    assert "免工时费" in decision.fee.text() and "成本价" in decision.fee.text()
    early = _decide(products, rules, "RG-AG-100", date(2025, 1, 1), date(2025, 1, 10), "碳刷坏了")
    assert early.in_warranty


@pytest.mark.parametrize(
    ("key", "label"), [("water", "进水"), ("drop", "摔落"), ("opened", "拆机")]
)
def test_each_exclusion_puts_the_repair_out_of_warranty(
    products: Products, rules: Rules, key: str, label: str
) -> None:
    decision = _decide(
        products, rules, "RG-AG-100", date(2025, 3, 2), date(2025, 6, 1), exclusions=(key,)
    )
    assert not decision.in_warranty
    assert "POL-WAR-013" in decision.rule_ids
    assert label in decision.reason and "以上情况仍可维修，按保修期外标准收费" in decision.reason
    assert decision.fee is not None and decision.fee.inspection_yuan == 30


def test_no_proof_is_out_of_warranty_and_says_so(products: Products, rules: Rules) -> None:
    decision = _decide(products, rules, "RG-AG-100", None, date(2025, 6, 1))
    assert not decision.in_warranty and decision.start is None and decision.ends is None
    assert "POL-WAR-011" in decision.rule_ids and "购买记录" in decision.reason
    assert decision.fee is not None


def test_brand_tool_in_warranty_is_handled_by_the_chain(products: Products, rules: Rules) -> None:
    decision = _decide(products, rules, "MK-DHP485", date(2025, 1, 1), date(2025, 6, 1))
    assert decision.in_warranty and decision.rule_ids == ["POL-WAR-005"]
    assert "品牌授权服务商" in decision.reason


def test_serial_example_of_pol_war_012(rules: Rules) -> None:
    start = start_from_serial("RG-2405-012345", rules, today=date(2025, 1, 1))
    assert start == date(2024, 8, 1)
    assert period_end(start, 12) == date(2025, 7, 31)
    assert start_from_serial(" rg－2405－012345 ", rules, today=date(2025, 1, 1)) == start


@pytest.mark.parametrize(
    "serial", ["RG-24-012345", "BO-2405-012345", "RG-2405-0123", "RG-2413-012345", "2405012345"]
)
def test_malformed_serials_are_refused_in_chinese(rules: Rules, serial: str) -> None:
    with pytest.raises(ValueError, match="序列号"):
        start_from_serial(serial, rules, today=date(2025, 1, 1))


def test_a_serial_made_in_the_future_is_refused(rules: Rules) -> None:
    with pytest.raises(ValueError, match="晚于今天"):
        start_from_serial("RG-2502-000001", rules, today=date(2025, 1, 31))
    assert start_from_serial("RG-2501-000001", rules, today=date(2025, 1, 31)) == date(2025, 4, 1)


def test_start_is_the_shanghai_date_of_delivery_or_purchase() -> None:
    paid = datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert warranty_start(paid, datetime(2025, 3, 3, 17, tzinfo=UTC)) == date(2025, 3, 4)
    assert warranty_start(datetime(2025, 3, 1, 20, tzinfo=UTC), None) == date(2025, 3, 2)
    assert warranty_start(datetime(2025, 3, 1, 20), None) == date(2025, 3, 2)  # naive = UTC


def test_month_arithmetic_rolls_missing_days_forward() -> None:
    assert period_end(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert period_end(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)


def test_every_product_has_a_period_rule_matching_its_own_fields(
    products: Products, rules: Rules
) -> None:
    period_rules = [r for i, r in rules.items() if i.startswith("POL-WAR-") and "skus" in r]
    for sku, product in products.items():
        listed = [r for r in period_rules if sku in r["skus"]]
        assert len(listed) == 1, sku
        for key in ("whole_unit_months", "motor_months", "consumables"):
            assert listed[0].get(key) == product["warranty"].get(key), (sku, key)


def test_the_numbers_come_from_the_rule_data(products: Products, rules: Rules) -> None:
    changed = {**rules, "POL-WAR-001": {**rules["POL-WAR-001"], "whole_unit_months": 18}}
    decision = _decide(products, changed, "RG-AG-100", date(2025, 3, 2), date(2026, 6, 1))
    assert decision.in_warranty and decision.ends == date(2026, 9, 1)
    assert "保修 18 个月" in decision.reason


_FAULTS = ("不转了", "电机烧了", "电池充不进电", "碳刷磨没了")
_STARTS = [date(2023, 1, 31) + timedelta(days=53 * n) for n in range(16)] + [date(2024, 2, 29)]


@pytest.mark.parametrize(
    "sku", ["RG-DR-12", "RG-DR-20BL", "RG-BP-12-20", "RG-SD-SET46", "RG-GL-01"]
)
def test_covered_only_up_to_the_end_date(products: Products, rules: Rules, sku: str) -> None:
    """A sweep standing in for a property test (hypothesis is not installed)."""
    for start in _STARTS:
        for offset in range(-10, 800, 11):
            today = start + timedelta(days=offset)
            for fault in _FAULTS:
                decision = _decide(products, rules, sku, start, today, fault)
                assert decision.ends is not None and decision.reason
                if decision.in_warranty:
                    assert today <= decision.ends
                else:  # only worn parts are charged within a running warranty
                    assert decision.fee is not None
                    assert today > decision.ends or "POL-WAR-009" in decision.rule_ids
