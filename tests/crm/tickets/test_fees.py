"""Out-of-warranty fees follow POL-FEE-002..009 and the member tiers of membership.yml."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from crm.tickets.fees import FeeEstimate, out_of_warranty_fee, tier_entry
from crm.tickets.warranty import decide

Rules = dict[str, dict[str, Any]]
Products = dict[str, dict[str, Any]]


@pytest.mark.parametrize(
    ("tier", "inspection", "labour"),
    [("普通会员", 30, 40), ("银卡", 0, 40), ("金卡", 0, 32), ("钻石", 0, 20), ("非会员", 30, 40)],
)
def test_tier_waives_inspection_and_discounts_labour(
    products: Products, rules: Rules, tier: str, inspection: int, labour: int
) -> None:
    fee = out_of_warranty_fee(products["RG-DR-20BL"], tier, rules)  # 电钻: 40 元
    assert fee.inspection_yuan == inspection
    assert (fee.labour_yuan, fee.labour_before_discount_yuan) == (labour, 40)
    assert "配件按成本价另计" in fee.notes
    assert ("检测费抵扣工时费" in fee.text()) is bool(inspection)


@pytest.mark.parametrize(
    ("sku", "before", "diamond"),
    [("RG-RH-800", 70, 35), ("RG-JS-650", 50, 25), ("RG-PW-1800", 80, 40), ("RG-LM-40", 30, 15)],
)
def test_labour_follows_the_category_table(
    products: Products, rules: Rules, sku: str, before: int, diamond: int
) -> None:
    fee = out_of_warranty_fee(products[sku], "钻石", rules)
    assert (fee.labour_before_discount_yuan, fee.labour_yuan) == (before, diamond)
    assert f"工时费 {diamond} 元（原价 {before} 元）" in fee.text()
    assert "钻石会员工时费 5 折，配件费不打折" in fee.text()


def test_tiers_in_membership_agree_with_the_fee_policy(rules: Rules) -> None:
    waived = rules["POL-FEE-002"]["waived_for_tiers"]
    discounts = rules["POL-FEE-005"]["labour_discount"]
    for tier_id in ("TIER-0", "TIER-1", "TIER-2", "TIER-3"):
        tier = rules[tier_id]
        assert tier_entry(rules, tier["name"]) is tier
        assert tier["inspection_fee_waived"] is (tier["name"] in waived)
        assert tier["labour_discount_rate"] == discounts.get(tier["name"], 1.0)


def test_replacement_is_suggested_above_half_the_price(products: Products, rules: Rules) -> None:
    fee = out_of_warranty_fee(products["RG-DR-12"], "普通会员", rules)  # 299 元
    assert "维修费超过新机售价 50%（149.5 元）的，维修中心会建议换新" in fee.text()


def test_brand_tool_out_of_warranty_is_quoted_by_the_brand(
    products: Products, rules: Rules
) -> None:
    decision = decide(
        products["BO-GBH226"], date(2023, 5, 1), date(2025, 5, 20), "金卡", "不转", [], rules
    )
    assert not decision.in_warranty and "POL-FEE-009" in decision.rule_ids
    fee = decision.fee
    assert fee is not None and fee.inspection_yuan == 0 and fee.labour_yuan is None
    assert "品牌授权服务商的报价" in fee.text() and "10-15 个工作日" in fee.text()
    plain = out_of_warranty_fee(products["BO-GBH226"], "普通会员", rules)
    assert plain.inspection_yuan == 30


@pytest.mark.parametrize(
    ("sku", "label", "trade_in"),
    [
        ("RG-BP-20-20", "锂电池包不提供维修", True),
        ("RG-CH-20F", "充电器不提供维修", False),
        ("MK-BL1850B", "锂电池包不提供维修", False),
        ("ST-WR-SET14", "手动工具不提供维修", False),
        ("RG-GL-01", "不提供保修和维修", False),
    ],
)
def test_items_that_are_not_repaired_say_so(
    products: Products, rules: Rules, sku: str, label: str, trade_in: bool
) -> None:
    fee = out_of_warranty_fee(products[sku], "普通会员", rules)
    assert not fee.repairable and fee.labour_yuan is None and fee.inspection_yuan == 0
    assert label in fee.text() and "检测费" not in fee.text()
    assert ("以旧换新，购买同型号新电池立减 30 元" in fee.text()) is trade_in


def test_motor_cover_charges_other_parts_only(products: Products, rules: Rules) -> None:
    decision = decide(
        products["RG-RH-20BL"], date(2024, 1, 10), date(2025, 7, 10), "金卡", "转子坏了", [], rules
    )
    fee = decision.fee
    assert decision.in_warranty and fee is not None
    assert (fee.inspection_yuan, fee.labour_yuan) == (0, 56)  # 电锤 70 × 0.8
    assert fee.text().startswith("电机免费更换并免工时费，其他部件如需维修按保修期外标准收费：")


def test_fee_numbers_come_from_the_rule_data(products: Products, rules: Rules) -> None:
    changed = {**rules, "POL-FEE-002": {**rules["POL-FEE-002"], "inspection_fee_yuan": 45}}
    changed["TIER-2"] = {**rules["TIER-2"], "labour_discount_rate": 0.75}
    assert out_of_warranty_fee(products["RG-AG-100"], "普通会员", changed).inspection_yuan == 45
    assert out_of_warranty_fee(products["RG-AG-100"], "金卡", changed).labour_yuan == Decimal(
        "37.50"
    )


def test_text_is_one_paragraph() -> None:
    fee = FeeEstimate(Decimal(30), Decimal(40), Decimal(40), ["配件按成本价另计"])
    assert fee.text() == "检测费 30 元；工时费 40 元；配件按成本价另计。"
