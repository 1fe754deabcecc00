"""Members, purchases and coupons for the coupon tests; rule numbers come from kb_rules."""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.knowledge.models import Rule
from crm.purchases.models import Purchase

TODAY = date(2026, 3, 16)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def rule(db: Session, rule_id: str) -> dict[str, Any]:
    """The full membership.yml entry of a rule, as loaded into kb_rules."""
    found = db.get(Rule, rule_id)
    assert found is not None, rule_id
    return found.data


def member(db: Session, tier: str = "普通会员", phone: bool = True) -> Customer:
    """A new member (a customer with a verified phone unless `phone` is False)."""
    number = f"136{random.randrange(10**8):08d}" if phone else None
    customer = Customer(display_name="券测试会员", phone=number, tier=tier)
    db.add(customer)
    db.flush()
    return customer


def purchase(db: Session, customer: Customer, on: date, amount: str = "100.00") -> Purchase:
    """A paid order of `customer` on `on` (noon, Shanghai time)."""
    order = Purchase(
        order_no=order_no("P"),
        source="pos",
        member_phone=customer.phone,
        customer_id=customer.id,
        sku="RG-DR-12",
        price_yuan=Decimal(amount),
        paid_at=datetime.combine(on, time(12), tzinfo=SHANGHAI),
        store_id="JX-HZ01",
    )
    db.add(order)
    db.flush()
    return order


def order_no(prefix: str = "O") -> str:
    return f"{prefix}-{secrets.token_hex(6).upper()}"


def key() -> str:
    return f"test:{secrets.token_hex(8)}"


def snapshot(db: Session, coupon: Coupon) -> tuple[Any, ...]:
    """The coupon's row as stored now (read past the session's identity map)."""
    row = db.execute(select(Coupon.__table__).where(Coupon.id == coupon.id)).one()
    return tuple(row)
