"""Out-of-warranty repair fees (POL-FEE-*), with every amount read from the rule data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Rules = Mapping[str, Mapping[str, Any]]

INSPECTION = "POL-FEE-002"
LABOUR = "POL-FEE-003"
PARTS = "POL-FEE-004"
MEMBER_DISCOUNT = "POL-FEE-005"
REPLACE_SUGGESTION = "POL-FEE-007"
BATTERY_TRADE_IN = "POL-FEE-008"
BRAND_REPAIR = "POL-FEE-009"
BRAND_WARRANTY = "POL-WAR-005"
BRAND_TURNAROUND = "POL-TAT-003"
MAIL_IN_SHIPPING = "POL-MAIL-004"
OWN_BRAND_PREFIX = "RG-"  # products.yml meta.sku_prefixes: RG is the own label 锐工
CENT = Decimal("0.01")
INSPECTION_NOTE = "确认维修的，检测费抵扣工时费；放弃维修的，检测费照收"


@dataclass(frozen=True)
class FeeEstimate:
    """What a repair outside the free cover is expected to cost, before parts."""

    inspection_yuan: Decimal  # 0 when waived by tier, or when the claim itself is covered
    labour_yuan: Decimal | None  # after the tier discount; None when unknown or not repaired
    labour_before_discount_yuan: Decimal | None
    notes: list[str] = field(default_factory=list)
    repairable: bool = True  # False: batteries, chargers, hand tools and consumables
    covered: str | None = None  # what stays free when only part is covered (the motor)

    def text(self) -> str:
        """One short Chinese paragraph for the chat."""
        body = "；".join([*self._amounts(), *self.notes]) + "。"
        return f"{self.covered}：{body}" if self.covered else body

    def _amounts(self) -> list[str]:
        if not self.repairable:
            return []
        inspection = (
            f"检测费 {yuan(self.inspection_yuan)} 元" if self.inspection_yuan else "免检测费"
        )
        before = self.labour_before_discount_yuan
        if self.labour_yuan is None or before is None:
            return [inspection]
        if not before:
            return [inspection, "免工时费"]
        if self.labour_yuan == before:
            return [inspection, f"工时费 {yuan(before)} 元"]
        return [inspection, f"工时费 {yuan(self.labour_yuan)} 元（原价 {yuan(before)} 元）"]


def yuan(amount: Decimal) -> str:
    """An amount without trailing zeros: 32, 149.5, 19.9."""
    return format(amount.quantize(CENT).normalize(), "f")


def _decimal(value: Any) -> Decimal:
    # JSON keeps 0.8 as a float and price_yuan as a string; str() avoids binary noise.
    return Decimal(str(value))


def _money(value: Any) -> Decimal:
    return _decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def tier_entry(rules: Rules, tier: str) -> Mapping[str, Any]:
    """The TIER-* rule named `tier`; an unknown name (非会员) gets no benefit."""
    for rule_id, data in rules.items():
        if rule_id.startswith("TIER-") and data.get("name") == tier:
            return data
    return {}


def _inspection(rules: Rules, tier: Mapping[str, Any]) -> Decimal:
    if tier.get("inspection_fee_waived"):
        return Decimal(0)
    return _money(rules[INSPECTION]["inspection_fee_yuan"])


def category_labour(rules: Rules, category: str) -> Decimal | None:
    """The POL-FEE-003 labour fee of a category, None when the table does not list it."""
    for row in rules[LABOUR]["labour_by_category"]:
        if category in row["categories"]:
            return _money(row["labour_yuan"])
    return None


def _discounted(before: Decimal, tier: Mapping[str, Any]) -> Decimal:
    rate = _decimal(tier.get("labour_discount_rate", 1))
    return _money(before * rate)


def _rate_text(rate: Decimal) -> str:
    tenths = rate * 10
    return yuan(tenths) if tenths == tenths.to_integral() else yuan(rate * 100)


def not_repaired_label(rules: Rules, product: Mapping[str, Any]) -> str | None:
    """The POL-FEE-003 not_repaired entry that covers this product (by category or series)."""
    category, series = product.get("category", ""), product.get("series", "")
    for label in rules[LABOUR]["not_repaired"]:
        if category == label or series.endswith(label):
            return str(label)
    return None


def is_repairable(product: Mapping[str, Any], rules: Rules, *, battery: bool = False) -> bool:
    """False for batteries and chargers, hand tools (POL-FEE-003) and consumables."""
    consumable = bool(product.get("warranty", {}).get("consumables"))
    return not (battery or consumable or not_repaired_label(rules, product))


def out_of_warranty_fee(
    product: Mapping[str, Any], tier: str, rules: Rules, *, battery: bool = False
) -> FeeEstimate:
    """The standard out-of-warranty estimate for this product and member tier."""
    if not is_repairable(product, rules, battery=battery):
        label = "电池包和充电器" if battery else not_repaired_label(rules, product)
        return _not_repaired(product, rules, label, battery=battery)
    member = tier_entry(rules, tier)
    inspection = _inspection(rules, member)
    notes: list[str | None] = [INSPECTION_NOTE] if inspection else []
    if is_brand_tool(product, rules):
        notes += [_brand_note(rules), _mail_note(rules, tier)]
        return FeeEstimate(inspection, None, None, [n for n in notes if n])
    before = category_labour(rules, product["category"])
    labour = None if before is None else _discounted(before, member)
    notes += _repair_notes(product, rules, tier, member)
    return FeeEstimate(inspection, labour, before, [n for n in notes if n])


def motor_cover_fee(product: Mapping[str, Any], tier: str, rules: Rules) -> FeeEstimate:
    """Motor covered in months 13-24 (POL-WAR-002): only other parts are charged."""
    member = tier_entry(rules, tier)
    before = category_labour(rules, product["category"])
    labour = None if before is None else _discounted(before, member)
    notes = [n for n in _repair_notes(product, rules, tier, member) if n]
    covered = "电机免费更换并免工时费，其他部件如需维修按保修期外标准收费"
    return FeeEstimate(Decimal(0), labour, before, notes, covered=covered)


def wear_part_fee(rules: Rules) -> FeeEstimate:
    """Only wear parts to replace within the warranty (POL-WAR-009): parts only, no labour."""
    parts = f"易损件按{rules[PARTS]['basis']}收取配件费"
    return FeeEstimate(Decimal(0), Decimal(0), Decimal(0), [parts])


def _not_repaired(
    product: Mapping[str, Any], rules: Rules, label: str | None, *, battery: bool
) -> FeeEstimate:
    category = product.get("category", "")
    notes = [f"{label}不提供维修" if label else f"{category}属于耗材，不提供保修和维修"]
    if battery or product.get("category") == "锂电池包":
        notes.append(_battery_note(product, rules))
    return FeeEstimate(Decimal(0), None, None, notes, repairable=False)


def _battery_note(product: Mapping[str, Any], rules: Rules) -> str:
    if str(product.get("sku", "")).startswith(OWN_BRAND_PREFIX):
        off = rules[BATTERY_TRADE_IN]["trade_in_discount_yuan"]
        return f"保修期外的锐工电池包可在门店以旧换新，购买同型号新电池立减 {off} 元"
    return "废旧锂电池可免费交到任一门店回收"


def _repair_notes(
    product: Mapping[str, Any], rules: Rules, tier: str, member: Mapping[str, Any]
) -> list[str | None]:
    notes: list[str | None] = [f"配件按{rules[PARTS]['basis']}另计"]
    rate = _decimal(member.get("labour_discount_rate", 1))
    if rate != 1:
        notes.append(f"{tier}会员工时费 {_rate_text(rate)} 折，配件费不打折")
    notes += [_replace_note(product, rules), _mail_note(rules, tier)]
    return notes


def _replace_note(product: Mapping[str, Any], rules: Rules) -> str:
    ratio = _decimal(rules[REPLACE_SUGGESTION]["replace_suggest_ratio"])
    threshold = _decimal(product["price_yuan"]) * ratio
    return (
        f"维修费超过新机售价 {yuan(ratio * 100)}%（{yuan(threshold)} 元）的，"
        "维修中心会建议换新，由您决定是否继续维修"
    )


def is_brand_tool(product: Mapping[str, Any], rules: Rules) -> bool:
    """A 博世, 牧田, 得伟 or 东成 tool (POL-WAR-005): repaired by the brand's service."""
    return product.get("sku") in rules[BRAND_WARRANTY]["skus"]


def _brand_note(rules: Rules) -> str:
    days = rules[BRAND_TURNAROUND]["brand_working_days"]
    return (
        "品牌工具需返厂维修的，工时和配件按品牌授权服务商的报价收取，匠心五金不加价；"
        f"返厂一般 {days} 个工作日"
    )


def _mail_note(rules: Rules, tier: str) -> str | None:
    shipping = rules[MAIL_IN_SHIPPING]["out_of_warranty"].get(tier)
    return f"如选择寄修，保修期外运费：{shipping}" if shipping else None
