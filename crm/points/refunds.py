"""A refund's effect on an order's points (PTS-REF-001): take back earned, give back spent."""

# Earned points are taken back in proportion to the refunds since they were credited (a refund
# recorded earlier lowered what they were earned on); spent points come back in proportion to
# all refunds, lot by lot with their old expiry, except lots already expired. Cumulative sums,
# not per-refund rounding, so partial refunds that add up to the order take back everything.
# What the balance cannot cover is the shortfall, deducted from the refund at 100 points = 1 yuan.

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import Conflict, InvalidInput, NotFound
from crm.points import rules
from crm.points.ledger import (
    checked_key,
    find,
    new_entry,
    once,
    post,
    replay_of,
    same_operation,
)
from crm.points.models import PointsAccount, PointsEntry
from crm.points.schemas import RefundPoints
from crm.points.service import earn_key, owner_of
from crm.purchases.service import get_by_order_no

CENT = Decimal("0.01")


def reverse_for_refund(
    session: Session,
    order_no: str,
    refunded_yuan: Decimal,
    idempotency_key: str,
    today: date | None = None,
) -> RefundPoints:
    """Apply one refund of `refunded_yuan` on the order to its points, once per key."""
    key = checked_key(idempotency_key)
    if refunded_yuan <= 0 or refunded_yuan != refunded_yuan.quantize(CENT):
        raise InvalidInput(f"退款金额必须大于 0 且精确到分：{refunded_yuan}")
    purchase = get_by_order_no(session, order_no)
    if purchase is None:
        raise NotFound(f"没有找到订单 {order_no}")
    earned = find(session, earn_key(purchase.order_no))
    customer_id = earned.customer_id if earned else owner_of(session, purchase).id
    day = today or rules.today()

    def done() -> RefundPoints | None:
        first = find(session, key)
        if first is None:
            return None
        same_operation(first, customer_id, "reverse")
        if first.ref != purchase.order_no or first.yuan != refunded_yuan:
            raise Conflict(f"幂等键 {key} 已用于另一笔退款")
        return _result(session, first, purchase.order_no)

    def do(account: PointsAccount) -> RefundPoints:
        lines = _lines(session, purchase.order_no)
        before = sum((line.yuan or Decimal(0) for line in lines["reverse"]), Decimal(0))
        if before + refunded_yuan > purchase.price_yuan:
            raise InvalidInput(
                f"订单 {purchase.order_no} 实付 {purchase.price_yuan} 元，已退 {before} 元，"
                f"不能再退 {refunded_yuan} 元"
            )
        share = (before + refunded_yuan) / purchase.price_yuan
        _give_back_spent(session, account, lines, share, key, day)
        _take_back_earned(session, account, lines, purchase.order_no, refunded_yuan, key)
        return _result(session, find(session, key), purchase.order_no)

    return once(session, customer_id, key, done, do)


def _lines(session: Session, order_no: str) -> dict[str, list[PointsEntry]]:
    """The order's entries by kind, oldest first."""
    stmt = select(PointsEntry).where(PointsEntry.ref == order_no).order_by(PointsEntry.id)
    lines: dict[str, list[PointsEntry]] = {kind: [] for kind in ("earn", "redeem", "reverse")}
    lines["return"] = []
    for line in session.scalars(stmt):
        lines.setdefault(line.kind, []).append(line)
    return lines


def _give_back_spent(
    session: Session,
    account: PointsAccount,
    lines: dict[str, list[PointsEntry]],
    share: Decimal,
    key: str,
    today: date,
) -> None:
    """Give back `share` of the points spent on the order, keeping each lot's expiry date."""
    if not lines["redeem"]:
        return
    used = replay_of(session, account.customer_id).used
    spent: dict[date | None, int] = {}
    for line in lines["redeem"]:
        for expires, points in used.get(line.id, []):
            spent[expires] = spent.get(expires, 0) + points
    for expires, points in sorted(spent.items(), key=lambda item: item[0] or date.max):
        if expires is not None and expires < today:
            continue
        given = sum(r.amount for r in lines["return"] if r.expires_on == expires)
        due = math.floor(points * share) - given
        if due > 0:
            suffix = expires.isoformat() if expires else "none"
            reason = "退货退回抵扣积分"
            line = new_entry(
                "return", due, reason, lines["redeem"][0].ref, f"{key}:return:{suffix}"
            )
            line.expires_on = expires
            post(session, account, line)


def _take_back_earned(
    session: Session,
    account: PointsAccount,
    lines: dict[str, list[PointsEntry]],
    order_no: str,
    refunded_yuan: Decimal,
    key: str,
) -> None:
    """Take back the order's earned points in proportion; always writes the refund's entry."""
    earned = lines["earn"][0] if lines["earn"] else None
    due = 0
    if earned is not None and earned.yuan:
        after = [r for r in lines["reverse"] if r.id > earned.id]
        refunded = sum((r.yuan or Decimal(0) for r in after), Decimal(0)) + refunded_yuan
        target = math.floor(earned.amount * min(refunded / earned.yuan, Decimal(1)))
        due = target - sum(-r.amount + r.shortfall for r in after)
    taken = min(max(due, 0), account.balance)
    reason = f"退货扣回消费积分（退款 {refunded_yuan} 元）"
    line = new_entry("reverse", -taken, reason, order_no, key, yuan=refunded_yuan)
    line.shortfall = max(due, 0) - taken
    post(session, account, line)


def _result(session: Session, reverse: PointsEntry | None, order_no: str) -> RefundPoints:
    assert reverse is not None  # written by the same unit of work
    returned = session.scalars(
        select(PointsEntry.amount).where(
            PointsEntry.kind == "return",
            PointsEntry.idempotency_key.startswith(
                f"{reverse.idempotency_key}:return:", autoescape=True
            ),
        )
    )
    terms = rules.redemption(session)
    return RefundPoints(
        order_no=order_no,
        reversed_points=-reverse.amount,
        returned_points=sum(returned),
        shortfall_points=reverse.shortfall,
        deduct_from_refund_yuan=rules.points_to_yuan(reverse.shortfall, terms),
    )
