"""The warranty decision for a repair, taken by rule from the knowledge base (POL-WAR-*)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from crm.tickets.exclusions import EXCLUSIONS, parse_exclusions
from crm.tickets.fees import (
    BATTERY_TRADE_IN,
    BRAND_REPAIR,
    INSPECTION,
    LABOUR,
    MEMBER_DISCOUNT,
    REPLACE_SUGGESTION,
    FeeEstimate,
    Rules,
    is_brand_tool,
    is_repairable,
    motor_cover_fee,
    not_repaired_label,
    out_of_warranty_fee,
    wear_part_fee,
)
from crm.tickets.periods import period_end, start_from_serial, warranty_start

__all__ = [
    "EXCLUSIONS",
    "FeeEstimate",
    "WarrantyDecision",
    "decide",
    "parse_exclusions",
    "start_from_serial",
    "warranty_start",
]

BATTERIES = "POL-WAR-004"
CONSUMABLES = "POL-WAR-008"
WEAR_PARTS_RULE = "POL-WAR-009"
PROOF = "POL-WAR-011"
EXCLUDED = "POL-WAR-013"
MOTOR_WORDS = ("电机", "马达", "转子", "定子")
BURNT = "烧"  # a burnt smell is the motor unless the customer names another part
OTHER_PARTS = ("开关", "电路板", "线路板", "控制板", "主板", "插头", "电源线", "电线")
FINE = re.compile(r"^.{0,2}(?:没问题|没坏|正常|是好的|好的)")
BATTERY_WORDS = ("电池", "充电", "充不", "放电", "电量", "续航", "掉电", "没电")
WEAR_PARTS = ("碳刷", "锯片", "锯条", "刀片", "喷嘴", "高压管", "密封圈")  # POL-DEF-004


@dataclass(frozen=True)
class WarrantyDecision:
    """Whether a repair is free, why (in Chinese, for the customer) and what it costs if not."""

    in_warranty: bool
    reason: str
    start: date | None
    ends: date | None  # last day of the period that decided
    rule_ids: list[str]
    fee: FeeEstimate | None
    remedy: str | None


@dataclass(frozen=True)
class _Claim:
    """Everything one decision reads."""

    product: Mapping[str, Any]
    start: date | None
    today: date
    tier: str
    fault: str
    rules: Rules


@dataclass(frozen=True)
class _Cover:
    """The warranty terms that apply to the faulty item: a rule's data, or the product's own."""

    rule_id: str | None
    terms: Mapping[str, Any]
    label: str  # 「锐工专业系列整机」, 「套装随附的电池和充电器」
    battery: bool


def decide(
    product: Mapping[str, Any],
    start: date | None,
    today: date,
    tier: str,
    fault: str,
    exclusions: Sequence[str],
    rules: Rules,
) -> WarrantyDecision:
    """Decide whether this repair is covered, by the rules of POL-WAR-001..013 and POL-FEE-*."""
    claim = _Claim(product, start, today, tier, fault, rules)
    cover = _cover(claim)
    if exclusions:
        return _excluded(claim, cover, exclusions)
    if start is None:
        return _no_proof(claim, cover)
    if cover.terms.get("consumables"):
        return _consumable(claim, cover, start)
    if cover.battery:
        return _battery(claim, cover, start)
    if _mentions(fault, WEAR_PARTS) and not motor_fault(fault):
        return _wear_part(claim, cover, start)
    return _tool(claim, cover, start)


def _mentions(text: str, words: Sequence[str]) -> bool:
    return any(word in text for word in words)


def motor_fault(fault: str) -> bool:
    """Whether the fault is the motor's: 电机/马达/转子/定子 not said to be fine, or 烧."""
    for word in MOTOR_WORDS:
        at = fault.find(word)
        if at >= 0 and not FINE.match(fault[at + len(word) :]):
            return True
    return BURNT in fault and not _mentions(fault, OTHER_PARTS)


def _cover(claim: _Claim) -> _Cover:
    """The period rule listing the SKU; a kit's battery rule when the fault is its battery."""
    sku, rules = claim.product.get("sku"), claim.rules
    battery_rule = rules.get(BATTERIES, {})
    if sku in battery_rule.get("also_applies_to_kit_contents_of", []) and _mentions(
        claim.fault, BATTERY_WORDS
    ):
        return _Cover(BATTERIES, battery_rule, "套装随附的电池和充电器", battery=True)
    for rule_id in sorted(rules):
        if rule_id.startswith("POL-WAR-") and sku in rules[rule_id].get("skus", []):
            terms = rules[rule_id]
            return _Cover(rule_id, terms, _label(claim.product, terms), rule_id == BATTERIES)
    # A SKU no rule lists yet: its own products.yml warranty fields still decide.
    terms = claim.product.get("warranty", {})
    return _Cover(None, terms, _label(claim.product, terms), "battery_months" in terms)


def _label(product: Mapping[str, Any], terms: Mapping[str, Any]) -> str:
    """What the period covers, as the reason names it: 「锐工专业系列整机」, 「锂电池包」."""
    if "remedy" in terms:  # hand tools are replaced piece by piece, never a 「整机」
        return str(product.get("series", ""))
    if "whole_unit_months" in terms:
        series = str(product.get("series", ""))
        return f"{series} 整机" if series[-1:].isascii() else f"{series}整机"
    return str(product.get("category", ""))


def _ids(cover: _Cover, *more: str) -> list[str]:
    return [rule_id for rule_id in (cover.rule_id, *more) if rule_id]


def _months(cover: _Cover) -> int:
    terms = cover.terms
    return int(terms["battery_months"] if cover.battery else terms["whole_unit_months"])


def _fee_ids(claim: _Claim, cover: _Cover, fee: FeeEstimate) -> list[str]:
    if cover.battery:
        return [LABOUR, BATTERY_TRADE_IN]
    if not fee.repairable:  # hand tools are in POL-FEE-003's not_repaired, consumables nowhere
        return [LABOUR] if not_repaired_label(claim.rules, claim.product) else []
    brand = is_brand_tool(claim.product, claim.rules)
    return [INSPECTION, LABOUR, MEMBER_DISCOUNT, BRAND_REPAIR if brand else REPLACE_SUGGESTION]


def _out(
    claim: _Claim, cover: _Cover, reason: str, ends: date | None, *ids: str
) -> WarrantyDecision:
    """Not covered: the standard out-of-warranty estimate goes with the reason."""
    fee = out_of_warranty_fee(claim.product, claim.tier, claim.rules, battery=cover.battery)
    rule_ids = _ids(cover, *ids, *_fee_ids(claim, cover, fee))
    return WarrantyDecision(False, reason, claim.start, ends, rule_ids, fee, None)


def _excluded(claim: _Claim, cover: _Cover, exclusions: Sequence[str]) -> WarrantyDecision:
    labels = "、".join(EXCLUSIONS.get(key, key) for key in exclusions)
    ends = None
    if claim.start is not None and not cover.terms.get("consumables"):
        ends = period_end(claim.start, _months(cover))
    reason = f"您提到工具有{labels}的情况，属于不在免费保修范围的情形；" + (
        "以上情况仍可维修，按保修期外标准收费。"
        if is_repairable(claim.product, claim.rules, battery=cover.battery)
        else "不能免费换新。"
    )
    return _out(claim, cover, reason, ends, EXCLUDED)


def _no_proof(claim: _Claim, cover: _Cover) -> WarrantyDecision:
    reason = (
        "暂未找到您的购买记录、发票或可识别的序列号，无法确认保修起始日，先按保修期外标准估算；"
        "补充会员消费记录、发票或小票照片、机身序列号任一凭证后可重新判定。"
    )
    return _out(claim, cover, reason, None, PROOF)


def _since(start: date, noun: str = "工具") -> str:
    return f"您的{noun} {start.isoformat()} 起保"


def _consumable(claim: _Claim, cover: _Cover, start: date) -> WarrantyDecision:
    days = int(cover.terms["quality_claim_days"])
    ends = start + timedelta(days=days - 1)
    head = f"{claim.product.get('category', '')}属于耗材和劳保用品，使用中的磨损、崩刃、断裂不保修"
    if claim.today <= ends:
        reason = (
            f"{head}；您 {start.isoformat()} 购买或签收，{days} 天内（至 {ends.isoformat()}）"
            "发现未使用即存在的质量问题，凭照片可免费换新。"
        )
        return WarrantyDecision(True, reason, start, ends, _ids(cover), None, "免费换新")
    reason = f"{head}；质量问题需在购买或签收后 {days} 天内提出，已于 {ends.isoformat()} 截止。"
    return _out(claim, cover, reason, ends)


def _battery(claim: _Claim, cover: _Cover, start: date) -> WarrantyDecision:
    months = _months(cover)
    ends = period_end(start, months)
    kit = cover.label != claim.product.get("category")
    head = f"{cover.label}保修 {months} 个月，{_since(start, '套装' if kit else cover.label)}"
    if claim.today <= ends:
        threshold = cover.terms.get("capacity_defect_threshold_percent")
        capacity = f"或充满后容量低于标称 {threshold}% " if threshold else ""
        reason = (
            f"{head}，保修至 {ends.isoformat()}；保修期内无法充电、无法放电{capacity}"
            "的，经检测确认后免费换新。"
        )
        return WarrantyDecision(True, reason, start, ends, _ids(cover), None, "免费换新")
    reason = f"{head}，保修已于 {ends.isoformat()} 到期；电池包和充电器不做拆修。"
    return _out(claim, cover, reason, ends)


def _wear_part(claim: _Claim, cover: _Cover, start: date) -> WarrantyDecision:
    ends = period_end(start, _months(cover))
    quality_days = int(claim.rules[CONSUMABLES]["quality_claim_days"])
    if claim.today > ends or claim.today < start + timedelta(days=quality_days):
        return _tool(claim, cover, start)  # expired, or a quality fault still covered
    reason = (
        f"{cover.label}保修至 {ends.isoformat()}，但碳刷、锯片、刀片、喷嘴、密封圈等易损件的"
        "正常磨损不在保修范围；保修期内仅需更换易损件的，只收配件费，免工时费。"
    )
    fee = wear_part_fee(claim.rules)
    ids = _ids(cover, WEAR_PARTS_RULE)
    return WarrantyDecision(False, reason, start, ends, ids, fee, None)


def _tool(claim: _Claim, cover: _Cover, start: date) -> WarrantyDecision:
    months = _months(cover)
    ends = period_end(start, months)
    head = f"{cover.label}保修 {months} 个月，{_since(start)}"
    if claim.today <= ends:
        remedy = cover.terms.get("remedy")
        reason = f"{head}，保修至 {ends.isoformat()}，目前在保修期内，{_promise(claim, remedy)}。"
        return WarrantyDecision(True, reason, start, ends, _ids(cover), None, remedy)
    motor_months = cover.terms.get("motor_months")
    if motor_months:
        return _motor(claim, cover, start, ends, int(motor_months))
    then = (
        "本次维修按保修期外标准收费"
        if is_repairable(claim.product, claim.rules)
        else "不再免费换新"
    )
    return _out(claim, cover, f"{head}，保修已于 {ends.isoformat()} 到期，{then}。", ends)


def _promise(claim: _Claim, remedy: str | None) -> str:
    if remedy:
        return f"正常使用出现断裂、变形的，{remedy}"
    if is_brand_tool(claim.product, claim.rules):
        return "检测确认后免费维修，需返厂的由维修中心转交品牌授权服务商，您无需自行联系厂家"
    return "检测确认后免费维修"


def _motor(
    claim: _Claim, cover: _Cover, start: date, whole_ends: date, months: int
) -> WarrantyDecision:
    """Months after the whole-unit cover: only a motor fault within motor_months is free."""
    ends = period_end(start, months)
    head = f"{cover.label}保修 {_months(cover)} 个月，{_since(start)}，整机保修已于 {whole_ends}"
    motor = f"电机保修 {months} 个月至 {ends.isoformat()}"
    if claim.today > ends:
        reason = f"{head} 到期，{motor}，也已到期，本次维修按保修期外标准收费。"
        decisive = ends if motor_fault(claim.fault) else whole_ends
        return _out(claim, cover, reason, decisive)
    if not motor_fault(claim.fault):
        reason = f"{head} 到期；{motor}，本次故障不涉及电机，按保修期外标准收费。"
        return _out(claim, cover, reason, whole_ends)
    reason = f"{head} 到期；{motor}，本次故障涉及电机，可免费更换电机并免工时费。"
    fee = motor_cover_fee(claim.product, claim.tier, claim.rules)
    ids = _ids(cover, EXCLUDED, LABOUR, MEMBER_DISCOUNT)
    return WarrantyDecision(True, reason, start, ends, ids, fee, None)
