"""The agent's 360° view of a customer: membership, points, coupons, repairs, purchases, tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation
from crm.coupons.service import list_valid
from crm.customers.models import Customer, WechatIdentity
from crm.db import SHANGHAI, as_utc
from crm.errors import NotFound
from crm.knowledge.models import Product
from crm.members.account import masked
from crm.points import service as points
from crm.points.rules import today
from crm.purchases.models import Purchase
from crm.tickets import lifecycle, states
from crm.tickets.models import RepairTicket

RECENT = 5
CHANNELS = {"oa": "公众号", "mp": "小程序"}


@dataclass(frozen=True)
class CouponLine:
    """A valid coupon."""

    name: str
    code: str
    valid_until: date


@dataclass(frozen=True)
class TicketLine:
    """A repair ticket, most recent first."""

    number: str
    product: str
    state: str
    overdue: bool
    created: datetime


@dataclass(frozen=True)
class PurchaseLine:
    """A purchase, most recent first."""

    order_no: str
    product: str
    store_id: str | None
    paid_on: date
    price_yuan: Decimal


@dataclass(frozen=True)
class CustomerPanel:
    """Everything the agent sees beside the conversation."""

    customer_id: int
    display_name: str
    phone: str | None
    tier: str
    tier_since: date | None
    points: int
    points_expiring: int
    coupons: list[CouponLine]
    tickets: list[TicketLine]
    purchases: list[PurchaseLine]
    tags: list[str]
    home_store_id: str | None


def home_store_of(session: Session, customer_id: int) -> str | None:
    """The store of the latest purchase, else of the latest repair ticket, else None."""
    for model in (Purchase, RepairTicket):
        store = session.scalars(
            select(model.store_id)
            .where(model.customer_id == customer_id, model.store_id.is_not(None))
            .order_by(model.id.desc())
            .limit(1)
        ).first()
        if store:
            return store
    return None


def customer_panel(session: Session, customer_id: int) -> CustomerPanel:
    """The 360° view of one customer."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"顾客 {customer_id} 不存在")
    return CustomerPanel(
        customer_id=customer.id,
        display_name=customer.display_name or f"顾客 #{customer.id}",
        phone=masked(customer.phone),
        tier=customer.tier,
        tier_since=customer.tier_since,
        points=points.balance(session, customer_id),
        points_expiring=sum(p.points for p in points.expiring_soon(session, customer_id)),
        coupons=[
            CouponLine(c.name, c.code, c.valid_until)
            for c in list_valid(session, customer_id, today())
        ],
        tickets=_tickets(session, customer_id),
        purchases=_purchases(session, customer_id),
        tags=_tags(session, customer),
        home_store_id=home_store_of(session, customer_id),
    )


def _tickets(session: Session, customer_id: int) -> list[TicketLine]:
    rows = session.scalars(
        select(RepairTicket)
        .where(RepairTicket.customer_id == customer_id)
        .order_by(RepairTicket.id.desc())
        .limit(RECENT)
    )
    return [
        TicketLine(
            t.number, t.product_name, states.label(t.state), lifecycle.is_overdue(t), t.created_at
        )
        for t in rows
    ]


def _purchases(session: Session, customer_id: int) -> list[PurchaseLine]:
    rows = session.execute(
        select(Purchase, Product.name)
        .outerjoin(Product, Product.sku == Purchase.sku)
        .where(Purchase.customer_id == customer_id)
        .order_by(Purchase.paid_at.desc())
        .limit(RECENT)
    ).all()
    return [
        PurchaseLine(
            p.order_no,
            name or p.sku,
            p.store_id,
            as_utc(p.paid_at).astimezone(SHANGHAI).date(),
            p.price_yuan,
        )
        for p, name in rows
    ]


def _tags(session: Session, customer: Customer) -> list[str]:
    """Channels, following, where they came from, birthday month."""
    tags: list[str] = []
    channels = session.scalars(
        select(Conversation.channel).where(Conversation.customer_id == customer.id).distinct()
    ).all()
    tags.extend(CHANNELS.get(channel, channel) for channel in sorted(channels))
    identities = session.scalars(
        select(WechatIdentity).where(WechatIdentity.customer_id == customer.id)
    ).all()
    for identity in identities:
        if identity.subscribed is False:
            tags.append("已取消关注公众号")
        if identity.source:
            tags.append(f"来源：{identity.source}")
    if customer.phone:
        tags.append("已绑定手机")
    if customer.birthday:
        tags.append(f"{customer.birthday.month} 月生日")
    return tags
