"""A mini-program user's membership as their WeChat identity sees it: overview, points, coupons.

Read through the identity, not a customer id remembered at login: binding a till-registered
phone moves the identity to that member's record.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from crm.coupons import service as coupons
from crm.coupons.schemas import CouponRead
from crm.customers.models import Customer, WechatIdentity
from crm.errors import Unauthorized
from crm.members import service as members
from crm.members.schemas import MemberCoupons, MemberOverview, MemberPoints
from crm.points import service as points
from crm.privacy.masking import mask_phone


def customer_of_identity(session: Session, identity_id: int) -> Customer:
    """The customer the identity belongs to now; Unauthorized when the identity is gone."""
    return _identity(session, identity_id).customer


def _identity(session: Session, identity_id: int) -> WechatIdentity:
    identity = session.get(WechatIdentity, identity_id)
    if identity is None:
        raise Unauthorized("登录已失效，请重新登录")
    return identity


def overview(session: Session, identity_id: int, today: date) -> MemberOverview:
    """Bound or not, tier, points balance and expiring points, and the way to the next tier."""
    identity = _identity(session, identity_id)
    customer = identity.customer
    bound = customer.phone is not None
    return MemberOverview(
        customer_id=customer.id,
        linked_to_official_account=identity.unionid is not None,
        bound=bound,
        phone=mask_phone(customer.phone),
        tier=customer.tier if bound else None,
        points=points.balance(session, customer.id) if bound else 0,
        points_expiring=points.expiring_soon(session, customer.id, today=today) if bound else [],
        progress=members.progress(session, customer, today) if bound else None,
    )


def points_page(session: Session, identity_id: int, page: int, size: int) -> MemberPoints:
    """One page of the member's ledger, newest first; empty while no phone is bound."""
    customer = customer_of_identity(session, identity_id)
    if customer.phone is None:
        return MemberPoints(bound=False, items=[], page=page, size=size, total=0)
    ledger = points.ledger_page(session, customer.id, page, size)
    return MemberPoints(bound=True, **ledger.model_dump())


def valid_coupons(session: Session, identity_id: int, today: date) -> MemberCoupons:
    """The member's coupons usable today with their till codes; empty while no phone is bound."""
    customer = customer_of_identity(session, identity_id)
    if customer.phone is None:
        return MemberCoupons(bound=False, items=[])
    items = [CouponRead.model_validate(c) for c in coupons.list_valid(session, customer.id, today)]
    return MemberCoupons(bound=True, items=items)
