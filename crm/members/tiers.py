"""The TIER-* table read from the knowledge base (kb_rules), and calendar-month arithmetic."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import KnowledgeBaseError
from crm.knowledge.models import Rule

TIERS_SECTION = "tiers"


@dataclass(frozen=True)
class TierSpec:
    """One TIER-* entry: its name, 12-month spend threshold, points multiplier and benefits."""

    rank: int
    id: str
    name: str
    threshold_yuan: Decimal
    points_multiplier: Decimal
    benefits: tuple[str, ...]


def tier_table(session: Session) -> list[TierSpec]:
    """Every tier, lowest threshold first."""
    entries = sorted(
        (r.data for r in session.scalars(select(Rule).where(Rule.section == TIERS_SECTION))),
        key=lambda data: Decimal(str(data["threshold_12m_spend_yuan"])),
    )
    if not entries:
        raise KnowledgeBaseError("membership.yml", "tiers", "no TIER-* entry is loaded")
    return [
        TierSpec(
            rank=rank,
            id=data["id"],
            name=data["name"],
            threshold_yuan=Decimal(str(data["threshold_12m_spend_yuan"])),
            points_multiplier=Decimal(str(data["points_multiplier"])),
            benefits=tuple(data.get("benefits", [])),
        )
        for rank, data in enumerate(entries)
    ]


def tier_named(table: list[TierSpec], name: str) -> TierSpec:
    """The tier called `name` (普通会员, 银卡, 金卡, 钻石)."""
    for tier in table:
        if tier.name == name:
            return tier
    raise KnowledgeBaseError("membership.yml", "tiers", f"no tier is named {name}")


def tier_for_spend(table: list[TierSpec], spend: Decimal) -> TierSpec:
    """The highest tier whose threshold `spend` reaches (upgrades may skip tiers, MEM-TIER-003)."""
    reached = [tier for tier in table if spend >= tier.threshold_yuan]
    return reached[-1] if reached else table[0]


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months, kept within the target month (Jan 31 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
