"""A member's tier from the rolling 12-month spend (MEM-TIER-001..005) and their progress."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.knowledge.rules import number_in, rule
from crm.members.schemas import TierChange, TierProgress
from crm.members.tiers import TierSpec, add_months, tier_for_spend, tier_named, tier_table
from crm.points.models import PointsEntry
from crm.points.rules import local_date
from crm.purchases.service import purchases_of


def window_months(session: Session) -> int:
    """MEM-TIER-001: the length of the rolling window (「滚动 12 个月累计实付金额」)."""
    return number_in(session, "MEM-TIER-001", "basis", r"(\d+)\s*个月")


def validity_months(session: Session) -> int:
    """MEM-TIER-004: how long a tier lasts after an upgrade."""
    return int(rule(session, "MEM-TIER-004")["tier_validity_months"])


def rolling_spend(session: Session, customer: Customer, today: date) -> Decimal:
    """Paid minus refunded over the window ending on `today` (MEM-TIER-001/002)."""
    # Purchase has no refund field: the refunds counted are those reverse_for_refund recorded
    # on the points ledger (its `reverse` entries carry the refunded yuan and the order number).
    start = add_months(today, -window_months(session))
    orders = {
        p.order_no: p.price_yuan
        for p in purchases_of(session, customer)
        if start < local_date(p.paid_at) <= today
    }
    if not orders:
        return Decimal(0)
    refunds = session.execute(
        select(PointsEntry.ref, func.sum(PointsEntry.yuan))
        .where(PointsEntry.kind == "reverse", PointsEntry.ref.in_(list(orders)))
        .group_by(PointsEntry.ref)
    )
    refunded = sum((Decimal(total or 0) for _, total in refunds), Decimal(0))
    return max(sum(orders.values(), Decimal(0)) - refunded, Decimal(0))


def recompute_tier(session: Session, customer: Customer, today: date) -> TierChange:
    """Re-rate the member on `today` per MEM-TIER-003/004/005 and say what changed and why."""
    change = _rerate(session, customer, today)
    session.flush()
    return change


def _rerate(session: Session, customer: Customer, today: date) -> TierChange:
    # Upgrades apply at once and restart the validity; a tier ends only when its validity does
    # (then the spend decides, possibly several tiers down); a refund within the first 30 days
    # re-rates on the upgrade-day spend less the refund.
    table = tier_table(session)
    current = tier_named(table, customer.tier)
    reached = tier_for_spend(table, rolling_spend(session, customer, today))
    if reached.rank > current.rank:
        return _set(
            customer,
            reached,
            today,
            f"近 {window_months(session)} 个月消费达到{reached.name}门槛，升级",
        )
    if not current.rank:
        return _set(customer, current, None, "等级不变")
    if customer.tier_since is None:  # a tier given without a date: its validity starts now
        return _set(customer, current, today, "等级有效期从今天起计算")
    months = validity_months(session)
    since = customer.tier_since
    if today >= add_months(since, months):
        while today >= add_months(since, months):
            since = add_months(since, months)
        outcome = "保级" if reached.rank == current.rank else f"降为{reached.name}"
        return _set(customer, reached, since, f"等级有效期到期，{outcome}")
    days = int(rule(session, "MEM-TIER-005")["refund_recheck_days"])
    if today <= since + timedelta(days=days):
        lower = tier_for_spend(table, rolling_spend(session, customer, since))
        if lower.rank < current.rank:
            return _set(customer, lower, since, f"升级后 {days} 天内退款，重新定级为{lower.name}")
    return _set(customer, current, since, "等级不变")


def _set(customer: Customer, tier: TierSpec, since: date | None, reason: str) -> TierChange:
    before = customer.tier
    customer.tier = tier.name
    customer.tier_since = since if tier.rank else None
    return TierChange(before=before, after=tier.name, since=customer.tier_since, reason=reason)


def progress(session: Session, customer: Customer, today: date) -> TierProgress:
    """The member's spend, the next tier and the yuan still to spend, and their benefits."""
    table = tier_table(session)
    current = tier_named(table, customer.tier)
    spend = rolling_spend(session, customer, today)
    reached = tier_for_spend(table, spend)
    standing = max(current, reached, key=lambda tier: tier.rank)
    above = [tier for tier in table if tier.rank > standing.rank]
    nxt = above[0] if above else None
    to_next = nxt.threshold_yuan - spend if nxt else None
    valid_until = None
    if current.rank and customer.tier_since:
        valid_until = add_months(customer.tier_since, validity_months(session)) - timedelta(days=1)
    if nxt is not None and to_next is not None:
        message = f"再消费 {yuan_text(to_next)} 元升级{nxt.name}"
    else:
        message = f"您已是最高等级{standing.name}"
    if reached.rank > current.rank:
        upgrade_by = rule(session, "MEM-TIER-003")["upgrade_by"]
        message = f"已达到{reached.name}门槛，{upgrade_by}前自动升级；{message}"
    return TierProgress(
        tier=current.name,
        spend_12m_yuan=spend,
        valid_until=valid_until,
        pending_upgrade=reached.name if reached.rank > current.rank else None,
        next_tier=nxt.name if nxt else None,
        to_next_yuan=to_next,
        message=message,
        benefits=list(current.benefits),
    )


def yuan_text(amount: Decimal) -> str:
    """1200 → "1200", 1199.5 → "1199.50"."""
    cents = amount.quantize(Decimal("0.01"))
    return str(cents.quantize(Decimal(1))) if cents == cents.to_integral_value() else str(cents)
