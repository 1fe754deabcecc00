"""Reading a repair request: tools by model, kind or the customer's own purchases; stores by
name, district or city; phone numbers; how to send it; a dangerous battery."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import utcnow
from crm.purchases.models import Purchase
from crm.tickets import intake


def _owner_of(db: Session, sku: str) -> Customer:
    customer = Customer(phone=f"137{secrets.randbelow(10**8):08d}")
    db.add(customer)
    db.flush()
    db.add(
        Purchase(
            order_no="T" + secrets.token_hex(5),
            source="pos",
            customer_id=customer.id,
            member_phone=customer.phone,
            sku=sku,
            price_yuan=Decimal("1"),
            paid_at=utcnow() - timedelta(days=3),
            store_id="JX-HZ01",
        )
    )
    db.flush()
    return customer


def test_a_model_code_names_one_tool_and_a_kind_lists_the_candidates(db: Session) -> None:
    assert intake.identify_product(db, None, "rg-dr-20bl 不转了").product.sku == "RG-DR-20BL"  # type: ignore[union-attr]
    grinders = intake.identify_product(db, None, "角磨机冒火花")
    assert grinders.product is None and len(grinders.candidates) >= 2
    assert all(p.category == "角磨机" for p in grinders.candidates)
    assert intake.identify_product(db, None, "今天天气不错") == intake.Identified(None, [])


def test_the_customers_own_purchase_decides_a_kind(db: Session) -> None:
    owner = _owner_of(db, "RG-AG-20BL")
    assert intake.identify_product(db, owner, "我的角磨机坏了").product.sku == "RG-AG-20BL"  # type: ignore[union-attr]
    assert [p.sku for p in intake.owned_products(db, owner)] == ["RG-AG-20BL"]


def test_stores_by_name_district_and_city(db: Session) -> None:
    assert [s.id for s in intake.stores_for(db, "送到滨江店")] == ["JX-HZ02"]
    assert [s.id for s in intake.stores_for(db, "鄞州那边")] == ["JX-NB01"]
    assert [s.id for s in intake.stores_for(db, "宁波")] == ["JX-NB01", "JX-NB02"]
    assert "JX-RC01" not in [s.id for s in intake.stores_for(db, "杭州")]
    assert "杭州：" in intake.store_names(db) and "维修中心" not in intake.store_names(db)


def test_phone_method_choice_and_hazard() -> None:
    assert intake.phone_in("电话 138 1234 5678 谢谢") == "13812345678"
    assert intake.phone_in("订单 2025031212345678") is None
    assert intake.method_in("我寄过去吧") == "寄修"
    assert intake.method_in("拿到店里") == "到店"
    assert intake.method_in("能上门来拿吗") == "上门取件"
    assert intake.method_in("好的") is None
    assert [intake.picked_index(t) for t in ("1", "第二个", "3号", "十")] == [0, 1, 2, None]
    assert intake.is_battery_hazard("电池鼓包了")
    assert not intake.is_battery_hazard("角磨机冒烟了")  # a tool, not a battery
