"""Coupon types read from the CPN-* rules of membership.yml (kb_rules): the one source of truth."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm.errors import InvalidInput, NotFound
from crm.knowledge.models import Rule

TYPES_SECTION = "coupons/types"
GENERAL_RULE = "CPN-GEN-001"  # one product coupon per order; repair coupons apart
CENT = Decimal("0.01")
PRODUCT, REPAIR = "product", "repair"


@dataclass(frozen=True)
class CouponTerms:
    """What one coupon of a type is worth, for whom and until when."""

    type_id: str
    name: str
    face_value_yuan: Decimal | None
    discount_rate: Decimal | None
    max_discount_yuan: Decimal | None
    threshold_yuan: Decimal
    valid_from: date
    valid_until: date


@dataclass(frozen=True)
class UsageRules:
    """How a type combines with other coupons on one order."""

    slot: str  # product | repair: the two kinds of order (CPN-GEN-001)
    max_per_order: int | None  # coupons of this slot on one order; None: no limit
    one_per_order: bool
    first_order_only: bool  # CPN-XR
    stacks_with_member_discount: bool  # CPN-ZK: false (MEM-DSC-002)


def type_rule(session: Session, type_id: str) -> dict[str, Any]:
    """The full YAML entry of a coupon type, or NotFound."""
    rule = session.get(Rule, type_id)
    if rule is None or rule.section != TYPES_SECTION:
        raise NotFound(f"没有这种优惠券类型：{type_id}")
    return rule.data


def terms(
    session: Session,
    type_id: str,
    today: date,
    tier: str | None = None,
    threshold_yuan: Decimal | None = None,
) -> CouponTerms:
    """The terms of a coupon of `type_id` issued `today` to a member of `tier`."""
    # 生日券 (CPN-SR) take the tier's face; 满减券 (CPN-MJ) the example of `threshold_yuan`.
    data = type_rule(session, type_id)
    values = _face(data, type_id, tier, threshold_yuan)
    return CouponTerms(
        type_id=type_id,
        name=str(data.get("name", type_id)),
        face_value_yuan=_money(values.get("face_value_yuan", values.get("off_yuan"))),
        discount_rate=_decimal(values.get("rate")),
        max_discount_yuan=_money(values.get("max_discount_yuan")),
        threshold_yuan=_money(values.get("threshold_yuan")) or Decimal("0.00"),
        valid_from=today,
        valid_until=valid_until(data, today),
    )


def _face(
    data: dict[str, Any], type_id: str, tier: str | None, threshold: Decimal | None
) -> dict[str, Any]:
    if "by_tier" in data:
        by_tier: dict[str, dict[str, Any]] = data["by_tier"]
        if tier not in by_tier:
            raise InvalidInput(f"{data.get('name', type_id)}没有「{tier}」等级的面值")
        return by_tier[tier]
    examples: list[dict[str, Any]] = data.get("examples") or []
    if not examples:
        return data
    if threshold is None and len(examples) == 1:
        return examples[0]
    for example in examples:
        if threshold is not None and Decimal(str(example["threshold_yuan"])) == threshold:
            return example
    offered = "、".join(str(e["threshold_yuan"]) for e in examples)
    raise InvalidInput(f"{data.get('name', type_id)}请指定券面门槛：{offered} 元")


def valid_until(data: dict[str, Any], today: date) -> date:
    """Last valid day: `validity_days` counted from the issue day, else the issue month's end."""
    days = data.get("validity_days")
    if days is not None:
        return today + timedelta(days=int(days) - 1)  # 发放之日起 N 天内: day 1 is today
    # 生日券: 当月 1 日至当月最后一天 (MEM-BDAY-002)
    return today.replace(day=calendar.monthrange(today.year, today.month)[1])


def usage(session: Session, type_id: str) -> UsageRules:
    """How coupons of `type_id` combine on one order (CPN-GEN-001 and the type's flags)."""
    data = type_rule(session, type_id)
    general = session.get(Rule, GENERAL_RULE)
    max_product = (general.data if general else {}).get("max_product_coupons_per_order")
    slot, limit = PRODUCT, None if max_product is None else int(max_product)
    if data.get("one_per_repair_order"):
        slot, limit = REPAIR, 1
    return UsageRules(
        slot=slot,
        max_per_order=limit,
        one_per_order=bool(data.get("one_per_order") or data.get("one_per_repair_order")),
        first_order_only=bool(data.get("first_order_only")),
        stacks_with_member_discount=bool(data.get("stack_with_member_discount", True)),
    )


def discount(
    face_value: Decimal | None, rate: Decimal | None, cap: Decimal | None, amount: Decimal
) -> Decimal:
    """Yuan taken off `amount`: the face value, or the rate's saving up to the cap; no change."""
    if rate is not None:
        off = (amount * (1 - rate)).quantize(CENT, ROUND_HALF_UP)
        return min(off, cap) if cap is not None else off
    return min(face_value or Decimal(0), amount).quantize(CENT)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _money(value: Any) -> Decimal | None:
    number = _decimal(value)
    return None if number is None else number.quantize(CENT)
