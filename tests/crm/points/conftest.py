"""Members and purchases for the points and tier tests, and the ledger's invariant."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.knowledge.models import Rule
from crm.points.fifo import replay
from crm.points.models import PointsAccount, PointsEntry
from crm.purchases.models import Purchase


def unique_phone() -> str:
    """A mobile number no other test uses (the 136 range)."""
    return f"136{random.randrange(10**8):08d}"


def member(
    db: Session,
    tier: str = "普通会员",
    birthday: date | None = None,
    tier_since: date | None = None,
    phone: str | None = None,
) -> Customer:
    customer = Customer(
        display_name="积分测试会员",
        phone=phone or unique_phone(),
        tier=tier,
        birthday=birthday,
        tier_since=tier_since,
    )
    db.add(customer)
    db.flush()
    return customer


def bought(
    db: Session,
    customer: Customer | None,
    yuan: str | Decimal,
    paid_on: date | datetime = date(2026, 3, 1),
    phone: str | None = None,
) -> Purchase:
    """A store purchase paid at 10:00 Shanghai time (02:00 UTC) on `paid_on`."""
    paid_at = (
        paid_on
        if isinstance(paid_on, datetime)
        else datetime(paid_on.year, paid_on.month, paid_on.day, 2, tzinfo=UTC)
    )
    purchase = Purchase(
        order_no=f"P-{secrets.token_hex(6).upper()}",
        source="pos",
        member_phone=phone,
        customer_id=customer.id if customer else None,
        sku="RG-DR-12",
        price_yuan=Decimal(yuan),
        paid_at=paid_at,
    )
    db.add(purchase)
    db.flush()
    return purchase


def rule_data(db: Session, rule_id: str) -> dict[str, Any]:
    rule = db.get(Rule, rule_id)
    assert rule is not None
    return rule.data


def ledger_state(db: Session, customer_id: int) -> tuple[int, int, int]:
    """(entries, ledger sum, cached balance) of a member."""
    mine = PointsEntry.customer_id == customer_id
    count = db.scalar(select(func.count()).select_from(PointsEntry).where(mine)) or 0
    total = db.scalar(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(mine)) or 0
    account = db.scalar(
        select(PointsAccount.balance).where(PointsAccount.customer_id == customer_id)
    )
    return int(count), int(total), int(account or 0)


def assert_consistent(db: Session, customer_id: int) -> int:
    """The cached balance is the ledger's sum, never negative, and the FIFO lots agree; the
    balance."""
    _, total, balance = ledger_state(db, customer_id)
    assert balance == total >= 0
    rows = db.execute(
        select(PointsEntry.id, PointsEntry.amount, PointsEntry.expires_on).where(
            PointsEntry.customer_id == customer_id
        )
    )
    lots = replay((r.id, r.amount, r.expires_on) for r in rows).lots
    assert sum(lot.remaining for lot in lots) == balance
    return balance
