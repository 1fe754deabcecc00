"""The agent's customer panel: membership, points, coupons, repairs, purchases, tags, home store."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.coupons import service as coupons
from crm.customers import service as customers
from crm.customers.models import Customer
from crm.customers.panel import (
    CouponLine,
    PurchaseLine,
    TicketLine,
    customer_panel,
    home_store_of,
)
from crm.db import SHANGHAI
from crm.errors import NotFound
from crm.knowledge.models import Product
from crm.points import service as points
from crm.tickets import flows, states
from tests.crm.customers.conftest import bought, repair

DAY = date(2026, 12, 15)  # 2025's points lapse on 12-31: inside the 30-day reminder


def person(db: Session, phone: str | None = None, scene: str | None = None) -> Customer:
    """A follower of the official account (from `scene`), as the gateway creates them."""
    identity = customers.resolve_identity(
        db, get_settings().wechat_oa_appid, "o-" + secrets.token_hex(6), "u-" + secrets.token_hex(6)
    )
    customers.follow(identity, scene)
    identity.customer.phone = phone
    db.flush()
    return identity.customer


def paid(year: int, month: int, day: int) -> datetime:
    """10:00 in the shops (02:00 UTC) on that day."""
    return datetime(year, month, day, 2, tzinfo=UTC)


def phone() -> str:
    return f"135{secrets.randbelow(10**8):08d}"


def product_name(db: Session, sku: str) -> str:
    product = db.get(Product, sku)
    assert product is not None
    return product.name


def test_the_panel_shows_everything_an_agent_needs_beside_the_chat(db: Session) -> None:
    number = phone()
    customer = person(db, number, scene="qrscene_JX-HZ01")
    customer.display_name, customer.tier, customer.tier_since = "王师傅", "银卡", date(2026, 3, 1)
    customer.birthday = date(1980, 12, 5)
    oa = customer.identities[0]
    mp = customers.resolve_identity(
        db, get_settings().wechat_mp_appid, "o-" + secrets.token_hex(6), oa.unionid
    )
    customers.record_source(mp, "kefu_button")
    points.adjust(db, customer.id, 500, "补发", "店员", f"a-{customer.id}", date(2025, 3, 1))
    points.adjust(db, customer.id, 200, "补发", "店员", f"b-{customer.id}", date(2026, 3, 1))
    discount = coupons.issue(db, customer.id, "CPN-ZK", f"zk-{customer.id}", date(2026, 12, 10))
    starter = coupons.issue(db, customer.id, "CPN-XR", f"xr-{customer.id}", date(2026, 12, 1))
    coupons.issue(db, customer.id, "CPN-ZK", f"old-{customer.id}", date(2026, 10, 1))  # lapsed
    newest = bought(db, customer.id, "RG-DR-12", paid(2026, 10, 1), "JX-HZ01")
    older = bought(db, customer.id, "NO-SUCH-SKU", paid(2026, 5, 1), "JX-HZ02", "58.50")
    first = repair(db, customer.id, "RG-DR-12", "JX-HZ02")
    flows.change_state(db, first, states.ACCEPTED, "staff:测试")
    first.due_on = DAY - timedelta(days=1)
    second = repair(db, customer.id, "RG-AG-100", None)
    second.due_on = DAY + timedelta(days=3)
    db.flush()

    panel = customer_panel(db, customer.id, DAY)

    assert (
        (panel.customer_id, panel.display_name, panel.phone)
        == (
            customer.id,
            "王**",  # masked
            f"{number[:3]}****{number[-4:]}",
        )
    )
    assert (panel.tier, panel.tier_since) == ("银卡", date(2026, 3, 1))
    assert (panel.points, panel.points_expiring) == (700, 500)
    assert panel.coupons == [
        CouponLine("折扣券", discount.code, "9 折，最多减 100 元", discount.valid_until),
        CouponLine("新会员首单工具套装券", starter.code, "满 99 减 30", starter.valid_until),
    ]
    assert panel.tickets == [
        TicketLine(
            second.number, product_name(db, "RG-AG-100"), "已受理", False, second.created_at
        ),
        TicketLine(first.number, product_name(db, "RG-DR-12"), "已收件", True, first.created_at),
    ]
    assert panel.purchases == [
        PurchaseLine(
            newest.order_no,
            product_name(db, "RG-DR-12"),
            "RG-DR-12",
            "JX-HZ01",
            date(2026, 10, 1),
            Decimal("299.00"),
        ),
        PurchaseLine(
            older.order_no,
            "NO-SUCH-SKU",
            "NO-SUCH-SKU",
            "JX-HZ02",
            date(2026, 5, 1),
            Decimal("58.50"),
        ),
    ]
    joined = customer.created_at.astimezone(SHANGHAI).date()
    assert panel.tags == [
        "公众号",
        "小程序",
        "已关注公众号",
        "来源：qrscene_JX-HZ01",
        "来源：kefu_button",
        f"会员自 {joined:%Y-%m-%d}",
        "12 月生日",
    ]
    assert panel.home_store_id == "JX-HZ01"


def test_a_follower_without_membership_has_an_empty_panel(db: Session) -> None:
    customer = person(db)
    customers.unfollow(customer.identities[0])

    panel = customer_panel(db, customer.id, DAY)

    assert panel.display_name == f"顾客 #{customer.id}" and panel.phone is None
    assert (panel.tier, panel.tier_since, panel.points, panel.points_expiring) == (
        "普通会员",
        None,
        0,
        0,
    )
    assert (panel.coupons, panel.tickets, panel.purchases) == ([], [], [])
    assert panel.tags == ["公众号", "已取消关注公众号"]
    assert panel.home_store_id is None


def test_the_home_store_is_the_latest_purchases_else_the_latest_repairs(db: Session) -> None:
    customer = person(db, phone())
    assert home_store_of(db, customer.id) is None
    repair(db, customer.id, "RG-DR-12", "JX-HZ03")
    repair(db, customer.id, "RG-AG-100", "JX-NB01")
    assert home_store_of(db, customer.id) == "JX-NB01"
    bought(db, customer.id, "RG-DR-12", paid(2026, 6, 1), None)  # a mall order: no store
    assert home_store_of(db, customer.id) == "JX-NB01"
    bought(db, customer.id, "RG-DR-12", paid(2026, 9, 1), "JX-HZ02")
    bought(db, customer.id, "RG-DR-12", paid(2026, 7, 1), "JX-HZ04")  # imported late, paid earlier
    assert home_store_of(db, customer.id) == "JX-HZ02"
    assert customer_panel(db, customer.id, DAY).home_store_id == "JX-HZ02"


def test_an_unknown_customer_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        customer_panel(db, 10**9)
