"""The agent's 360° view of a customer: membership, points, coupons, repairs, purchases, tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, SQLColumnExpression, func, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations.models import Conversation
from crm.coupons.notices import value_text
from crm.coupons.service import list_valid
from crm.customers.models import Customer, WechatIdentity
from crm.db import as_utc
from crm.errors import NotFound
from crm.knowledge.models import Product
from crm.points import service as points
from crm.points.rules import local_date, today
from crm.privacy.masking import mask_name, mask_phone
from crm.purchases.models import Purchase
from crm.tickets import lifecycle, states
from crm.tickets.models import RepairTicket

RECENT = 5
CHANNELS = {"oa": "公众号", "mp": "小程序"}


@dataclass(frozen=True)
class CouponLine:
    """A coupon usable today."""

    name: str
    code: str
    value: str  # 满 99 减 30 / 9 折最多减 100 元 / 20 元无门槛
    valid_until: date


@dataclass(frozen=True)
class TicketLine:
    """A repair ticket, most recent first."""

    number: str
    product: str
    state: str  # the label customers read
    overdue: bool
    created: datetime


@dataclass(frozen=True)
class PurchaseLine:
    """A purchase, most recent first."""

    order_no: str
    product: str  # the catalogue name, else the SKU
    sku: str
    store_id: str | None
    paid_on: date
    price_yuan: Decimal


@dataclass(frozen=True)
class CustomerPanel:
    """Everything the agent sees beside the conversation."""

    customer_id: int
    display_name: str
    phone: str | None  # masked
    tier: str
    tier_since: date | None
    points: int
    points_expiring: int
    coupons: list[CouponLine]
    tickets: list[TicketLine]
    purchases: list[PurchaseLine]
    tags: list[str]
    home_store_id: str | None


def home_store(customer_id: SQLColumnExpression[int] | int) -> ColumnElement[str | None]:
    """SQL: the store of the latest purchase, else of the latest repair ticket, else NULL."""
    purchase = (
        select(Purchase.store_id)
        .where(Purchase.customer_id == customer_id, Purchase.store_id.is_not(None))
        .order_by(Purchase.paid_at.desc(), Purchase.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    ticket = (
        select(RepairTicket.store_id)
        .where(RepairTicket.customer_id == customer_id, RepairTicket.store_id.is_not(None))
        .order_by(RepairTicket.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(purchase, ticket)


def home_store_of(session: Session, customer_id: int) -> str | None:
    """The store of the latest purchase, else of the latest repair ticket, else None."""
    return session.scalar(select(home_store(customer_id)))


def customer_panel(session: Session, customer_id: int, on: date | None = None) -> CustomerPanel:
    """The 360° view of one customer as of the business day `on` (today); NotFound if unknown."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"顾客 {customer_id} 不存在")
    day = on or today()
    return CustomerPanel(
        customer_id=customer.id,
        display_name=mask_name(customer.display_name) or f"顾客 #{customer.id}",
        phone=mask_phone(customer.phone),
        tier=customer.tier,
        tier_since=customer.tier_since,
        points=points.balance(session, customer_id),
        points_expiring=sum(
            p.points for p in points.expiring_soon(session, customer_id, today=day)
        ),
        coupons=[
            CouponLine(c.name, c.code, value_text(c), c.valid_until)
            for c in list_valid(session, customer_id, day)
        ],
        tickets=_tickets(session, customer_id, day),
        purchases=_purchases(session, customer_id),
        tags=_tags(session, customer),
        home_store_id=home_store_of(session, customer_id),
    )


def _tickets(session: Session, customer_id: int, day: date) -> list[TicketLine]:
    rows = session.scalars(
        select(RepairTicket)
        .where(RepairTicket.customer_id == customer_id)
        .order_by(RepairTicket.id.desc())
        .limit(RECENT)
    )
    return [
        TicketLine(
            t.number,
            t.product_name,
            states.label(t.state),
            lifecycle.is_overdue(t, day),
            as_utc(t.created_at),
        )
        for t in rows
    ]


def _purchases(session: Session, customer_id: int) -> list[PurchaseLine]:
    rows = session.execute(
        select(Purchase, Product.name)
        .outerjoin(Product, Product.sku == Purchase.sku)
        .where(Purchase.customer_id == customer_id)
        .order_by(Purchase.paid_at.desc(), Purchase.id.desc())
        .limit(RECENT)
    ).all()
    return [
        PurchaseLine(
            p.order_no, name or p.sku, p.sku, p.store_id, local_date(p.paid_at), p.price_yuan
        )
        for p, name in rows
    ]


def _tags(session: Session, customer: Customer) -> list[str]:
    """Channels used, following or not, acquisition source, member since, birthday month."""
    settings = get_settings()
    by_appid = {settings.wechat_oa_appid: "oa", settings.wechat_mp_appid: "mp"}
    rows = session.execute(
        select(WechatIdentity, Conversation.channel)
        .outerjoin(Conversation, Conversation.identity_id == WechatIdentity.id)
        .where(WechatIdentity.customer_id == customer.id)
        .order_by(WechatIdentity.id)
    ).all()
    # An identity of another appid (a second account) is placed by the channel it wrote on.
    used = {by_appid.get(identity.appid, channel) for identity, channel in rows}
    tags = [label for channel, label in CHANNELS.items() if channel in used]
    for identity, _ in rows:
        if identity.subscribed is not None:  # official-account identities only
            tags.append("已关注公众号" if identity.subscribed else "已取消关注公众号")
        if identity.source:
            tags.append(f"来源：{identity.source}")
    if customer.phone:
        # The record's creation: a till registration's day; for a follower who bound a phone
        # later, their first contact (phone_bound_at moves with every rebind).
        tags.append(f"会员自 {local_date(customer.created_at):%Y-%m-%d}")
    if customer.birthday:
        tags.append(f"{customer.birthday.month} 月生日")
    return tags
