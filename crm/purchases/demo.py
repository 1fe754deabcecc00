"""Demo members and purchases for the embedded default: the same data on every run."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import SHANGHAI
from crm.errors import NotFound
from crm.knowledge.models import Product, Store
from crm.privacy.crypto import phone_digest
from crm.purchases.models import Purchase
from crm.purchases.service import import_purchases

SEED = 20250101
PURCHASES = 40
# About 30 months back, so that some purchases are inside their warranty and some outside.
OLDEST_DAYS = 912
# Mall orders are at least this old, so that their delivery (1–3 days later) is in the past.
MALL_MIN_DAYS = 5
MEMBERS = [
    ("王建国", "钻石"),
    ("李秀英", "金卡"),
    ("张伟", "金卡"),
    ("刘洋", "金卡"),
    ("陈静", "银卡"),
    ("杨磊", "银卡"),
    ("赵敏", "银卡"),
    ("黄志强", "普通会员"),
    ("周婷", "普通会员"),
    ("吴刚", "普通会员"),
    ("徐丽", "普通会员"),
    ("孙浩", "普通会员"),
]
# Buyers who left a phone at the till but are no members yet: bind_phone claims these later.
WALK_INS = 2


@dataclass
class DemoSummary:
    """How many demo rows this run created, and how many were there already."""

    members_created: int
    members_present: int
    purchases_created: int
    purchases_present: int


def demo_phones(rng: random.Random, count: int, prefix: str) -> list[str]:
    """`count` distinct 11-digit mobile numbers starting with `prefix`."""
    phones: list[str] = []
    while len(phones) < count:
        phone = f"{prefix}{rng.randrange(10**8):08d}"
        if phone not in phones:
            phones.append(phone)
    return phones


def demo_orders(
    rng: random.Random,
    skus: list[tuple[str, Any]],
    stores: list[str],
    phones: list[str],
    today: date,
) -> list[dict[str, Any]]:
    """PURCHASES import rows; every member buys at least once. Only the dates follow `today`."""
    orders = []
    for index in range(PURCHASES):
        sku, price = rng.choice(skus)
        phone = phones[index] if index < len(phones) else rng.choice(phones)
        source = "mall" if rng.random() < 0.35 else "pos"
        days_ago = rng.randint(MALL_MIN_DAYS if source == "mall" else 1, OLDEST_DAYS)
        at = time(rng.randint(9, 20), rng.randrange(60))
        paid_at = datetime.combine(today - timedelta(days=days_ago), at, SHANGHAI)
        row: dict[str, Any] = {
            "order_no": f"DEMO-{source.upper()}-{index + 1:04d}",
            "source": source,
            "member_phone": phone,
            "sku": sku,
            "price_yuan": price,
            "paid_at": paid_at,
        }
        if source == "pos":
            row["store"] = rng.choice(stores)
        else:
            row["delivered_at"] = paid_at + timedelta(
                days=rng.randint(1, 3), hours=rng.randint(0, 6)
            )
        orders.append(row)
    return orders


def seed_demo(session: Session, today: date | None = None) -> DemoSummary:
    """Create the demo members and purchases that are missing; existing ones are left alone."""
    rng = random.Random(SEED)
    skus = [(p.sku, p.price_yuan) for p in session.scalars(select(Product).order_by(Product.sku))]
    # The repair centre (JX-RC01) sells nothing; the stores are the other ids.
    stores = list(session.scalars(select(Store.id).where(~Store.id.startswith("JX-RC"))))
    if not skus or not stores:
        raise NotFound("the knowledge base is not loaded: run `make kb` first")
    member_phones = demo_phones(rng, len(MEMBERS), "138")
    walk_in_phones = demo_phones(rng, WALK_INS, "139")
    members_created = _ensure_members(session, member_phones)
    today = today or datetime.now(SHANGHAI).date()
    orders = demo_orders(rng, skus, sorted(stores), member_phones + walk_in_phones, today)
    present = set(
        session.scalars(
            select(Purchase.order_no).where(Purchase.order_no.in_([o["order_no"] for o in orders]))
        )
    )
    missing = [o for o in orders if o["order_no"] not in present]
    report = import_purchases(session, missing)
    return DemoSummary(
        members_created=members_created,
        members_present=len(MEMBERS) - members_created,
        purchases_created=report.created,
        purchases_present=len(present),
    )


def _ensure_members(session: Session, phones: list[str]) -> int:
    digests = [phone_digest(p) for p in phones]
    present = set(session.scalars(select(Customer.phone).where(Customer.phone_hash.in_(digests))))
    created = 0
    for (name, tier), phone in zip(MEMBERS, phones, strict=True):
        if phone not in present:
            session.add(Customer(display_name=name, phone=phone, tier=tier))
            created += 1
    session.flush()
    return created
