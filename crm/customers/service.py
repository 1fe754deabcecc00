"""Resolving a WeChat sender to a customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.customers.models import Customer, WechatIdentity
from crm.db import utcnow


def get_identity(session: Session, appid: str, openid: str) -> WechatIdentity | None:
    """The identity for (appid, openid), if we have seen it."""
    stmt = select(WechatIdentity).where(
        WechatIdentity.appid == appid, WechatIdentity.openid == openid
    )
    return session.scalars(stmt).one_or_none()


def resolve_identity(
    session: Session, appid: str, openid: str, unionid: str | None = None
) -> WechatIdentity:
    """The identity for (appid, openid), created with a new customer on first contact.

    A unionid already known under another appid links the new identity to that customer.
    """
    identity = get_identity(session, appid, openid)
    if identity is None:
        identity = _create_identity(session, appid, openid, unionid)
    elif unionid and not identity.unionid:
        identity.unionid = unionid
    identity.last_seen_at = utcnow()
    session.flush()
    return identity


def _create_identity(
    session: Session, appid: str, openid: str, unionid: str | None
) -> WechatIdentity:
    customer = None
    if unionid:
        sibling = session.scalars(
            select(WechatIdentity).where(WechatIdentity.unionid == unionid).limit(1)
        ).first()
        customer = sibling.customer if sibling else None
    try:
        with session.begin_nested():
            customer = customer or Customer()
            identity = WechatIdentity(
                customer=customer, appid=appid, openid=openid, unionid=unionid
            )
            session.add(identity)
            session.flush()
    except IntegrityError:
        # Another request created it between our read and our insert.
        found = get_identity(session, appid, openid)
        if found is None:
            raise
        return found
    return identity
