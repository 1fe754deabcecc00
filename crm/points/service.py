"""Earning, spending, adjusting and reading a member's points (services flush, never commit)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import InvalidInput, NotFound
from crm.members.tiers import tier_named, tier_table
from crm.points import rules
from crm.points.ledger import (
    balance_of,
    checked_key,
    find,
    new_entry,
    once,
    post,
    replay_of,
    require_customer,
    same_operation,
)
from crm.points.models import PointsAccount, PointsEntry
from crm.points.schemas import ExpiringPoints, LedgerPage, PointsEntryRead
from crm.purchases.models import Purchase

PAGE_MAX = 100


def earn_key(order_no: str) -> str:
    """The idempotency key of an order's points: one credit per order, however often delivered."""
    return f"earn:{order_no}"


def owner_of(session: Session, purchase: Purchase) -> Customer:
    """The member a purchase belongs to: linked, or recorded under their phone."""
    customer = session.get(Customer, purchase.customer_id) if purchase.customer_id else None
    if customer is None and purchase.member_phone:
        stmt = select(Customer).where(Customer.phone_hash == purchase.member_phone_hash)
        customer = session.scalars(stmt).one_or_none()
    if customer is None:
        raise NotFound(f"订单 {purchase.order_no} 没有关联会员，不能积分")
    return customer


def earn_for_purchase(
    session: Session, purchase: Purchase, today: date | None = None
) -> PointsEntry:
    """Credit the order's points once (PTS-EARN-001, tier, birthday month; PTS-EXP-001)."""
    credited_on = today or rules.today()
    key = earn_key(purchase.order_no)
    first = find(session, key)
    if first is not None:
        return first
    customer = owner_of(session, purchase)

    def do(account: PointsAccount) -> PointsEntry:
        # A refund recorded before the points were credited lowers what they are earned on.
        refunded = session.scalar(
            select(func.coalesce(func.sum(PointsEntry.yuan), 0)).where(
                PointsEntry.kind == "reverse", PointsEntry.ref == purchase.order_no
            )
        )
        paid = max(purchase.price_yuan - Decimal(refunded or 0), Decimal(0))
        tier = tier_named(tier_table(session), customer.tier)
        paid_on = rules.local_date(purchase.paid_at)
        birthday = customer.birthday is not None and customer.birthday.month == paid_on.month
        points = rules.earned_points(session, paid, tier.points_multiplier, birthday)
        reason = f"消费积分：实付 {paid} 元 × {tier.name} {tier.points_multiplier} 倍" + (
            " × 生日月翻倍" if birthday else ""
        )
        expires = rules.expires_on(session, credited_on)
        line = new_entry("earn", points, reason, purchase.order_no, key, expires, yuan=paid)
        return post(session, account, line)

    return once(session, customer.id, key, lambda: find(session, key), do)


def redeem(
    session: Session,
    customer_id: int,
    points: int,
    ref: str,
    idempotency_key: str,
    order_yuan: Decimal | None = None,
    reason: str | None = None,
) -> PointsEntry:
    """Spend `points` (PTS-USE-001 units and order cap); InsufficientPoints beyond the balance."""
    key = checked_key(idempotency_key)
    terms = rules.redemption(session)
    if points <= 0 or points % terms.unit_points:
        raise InvalidInput(f"积分以 {terms.unit_points} 为单位使用，{points} 不是有效数量")
    if order_yuan is not None and points > (cap := rules.order_cap(order_yuan, terms)):
        share = f"{terms.max_share_of_order:.0%}"
        raise InvalidInput(f"这笔订单最多可用 {cap} 积分抵扣（不超过商品金额的 {share}）")
    if not ref.strip():
        raise InvalidInput("积分抵扣必须注明订单号或兑换的券")
    require_customer(session, customer_id)
    text = reason or f"积分抵扣 {rules.points_to_yuan(points, terms)} 元"

    def do(account: PointsAccount) -> PointsEntry:
        return post(session, account, new_entry("redeem", -points, text, ref.strip(), key))

    def done() -> PointsEntry | None:
        first = find(session, key)
        return same_operation(first, customer_id, "redeem", -points) if first else None

    return once(session, customer_id, key, done, do)


def adjust(
    session: Session,
    customer_id: int,
    amount: int,
    reason: str,
    staff: str,
    idempotency_key: str,
    today: date | None = None,
) -> PointsEntry:
    """A staff correction (+ credit expiring per PTS-EXP-001, − debit within the balance)."""
    key = checked_key(idempotency_key)
    if amount == 0:
        raise InvalidInput("调整积分的数量不能为 0")
    if not reason.strip() or not staff.strip():
        raise InvalidInput("调整积分必须写明原因和经办人")
    require_customer(session, customer_id)
    expires = rules.expires_on(session, today or rules.today()) if amount > 0 else None

    def do(account: PointsAccount) -> PointsEntry:
        line = new_entry("adjust", amount, reason.strip(), staff.strip(), key, expires)
        return post(session, account, line)

    def done() -> PointsEntry | None:
        first = find(session, key)
        return same_operation(first, customer_id, "adjust", amount) if first else None

    return once(session, customer_id, key, done, do)


def balance(session: Session, customer_id: int) -> int:
    """The member's usable points."""
    require_customer(session, customer_id)
    return balance_of(session, customer_id)


def max_redeemable(session: Session, customer_id: int, order_yuan: Decimal) -> int:
    """The most points the member can use on an order of `order_yuan` (PTS-USE-001)."""
    terms = rules.redemption(session)
    usable = balance(session, customer_id)
    return min(usable - usable % terms.unit_points, rules.order_cap(order_yuan, terms))


def expiring_soon(
    session: Session,
    customer_id: int,
    within_days: int | None = None,
    today: date | None = None,
) -> list[ExpiringPoints]:
    """Open points lapsing within `within_days` (default: PTS-EXP-001's reminder), by date."""
    require_customer(session, customer_id)
    days = rules.reminder_days(session) if within_days is None else within_days
    if days < 0:
        raise InvalidInput("天数不能为负")
    horizon = (today or rules.today()) + timedelta(days=days)
    open_points = replay_of(session, customer_id).open_by_expiry()
    return [
        ExpiringPoints(expires_on=day, points=points)
        for day, points in sorted((d, p) for d, p in open_points.items() if d is not None)
        if day <= horizon
    ]


def ledger_page(session: Session, customer_id: int, page: int = 1, size: int = 20) -> LedgerPage:
    """One page of the member's ledger, newest first."""
    if page < 1 or not 1 <= size <= PAGE_MAX:
        raise InvalidInput(f"页码从 1 开始，每页 1 到 {PAGE_MAX} 条")
    require_customer(session, customer_id)
    mine = PointsEntry.customer_id == customer_id
    total = session.scalar(select(func.count()).select_from(PointsEntry).where(mine)) or 0
    rows = session.scalars(
        select(PointsEntry)
        .where(mine)
        .order_by(PointsEntry.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    items = [PointsEntryRead.model_validate(row) for row in rows]
    return LedgerPage(items=items, page=page, size=size, total=total)
