"""Order rows and members for the purchases tests: unique numbers, real SKUs and stores."""

from __future__ import annotations

import random
import secrets
from typing import Any

from sqlalchemy.orm import Session

from crm.customers.models import Customer


def unique_phone() -> str:
    """A mobile number no other test uses (the 137 range; the demo data uses 138 and 139)."""
    return f"137{random.randrange(10**8):08d}"


def unique_order_no(prefix: str = "T") -> str:
    return f"{prefix}-{secrets.token_hex(6).upper()}"


def order(**fields: Any) -> dict[str, Any]:
    """A valid POS order row (as a CSV or JSON import carries it), with `fields` changed."""
    row: dict[str, Any] = {
        "order_no": unique_order_no(),
        "source": "pos",
        "member_phone": unique_phone(),
        "sku": "RG-DR-12",
        "price_yuan": "299.00",
        "paid_at": "2025-06-01 10:30:00",
        "store": "JX-HZ01",
    }
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


def member(db: Session, phone: str | None = None, tier: str = "普通会员") -> Customer:
    customer = Customer(display_name="测试会员", phone=phone, tier=tier)
    db.add(customer)
    db.flush()
    return customer
