"""Resolving a WeChat sender to a customer, and binding the member's verified phone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation
from crm.customers.models import Customer, SubscriptionCredit, WechatIdentity
from crm.customers.schemas import normalize_mobile
from crm.db import as_utc, recent, rowcount, utcnow
from crm.errors import Conflict, InvalidInput
from crm.privacy.crypto import phone_digest
from crm.purchases.models import Purchase


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
    return identity_seen(session, get_identity(session, appid, openid), appid, openid, unionid)


def identity_seen(
    session: Session,
    found: WechatIdentity | None,
    appid: str,
    openid: str,
    unionid: str | None = None,
    now: datetime | None = None,
) -> WechatIdentity:
    """resolve_identity for a caller that looked (appid, openid) up itself: `found` (None on
    first contact: created now), seen `now` (written by the session's next flush)."""
    now = now or utcnow()
    if found is None:
        found = _create_identity(session, appid, openid, unionid, now)
    elif unionid and not found.unionid:
        found.unionid = unionid
    if not recent(found.last_seen_at, now):  # unchanged for a new identity: no UPDATE
        found.last_seen_at = now
    return found


def _create_identity(
    session: Session, appid: str, openid: str, unionid: str | None, now: datetime
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
                customer=customer, appid=appid, openid=openid, unionid=unionid, last_seen_at=now
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


def touch_interaction(identity: WechatIdentity) -> None:
    """The user just did something that opens the customer-service window (to the minute)."""
    now = utcnow()
    if not recent(identity.last_interaction_at, now):
        identity.last_interaction_at = now


def in_service_window(identity: WechatIdentity, hours: int = 48) -> bool:
    """True while customer-service messages may be sent (48 h after the last interaction)."""
    closes = service_window_closes(identity, hours)
    return closes is not None and utcnow() < closes


def service_window_closes(identity: WechatIdentity, hours: int = 48) -> datetime | None:
    """When the customer-service window closes (None: it is not open and will not be)."""
    last = identity.last_interaction_at
    if last is None or identity.subscribed is False:
        return None
    return as_utc(last) + timedelta(hours=hours)


def follow(identity: WechatIdentity, scene: str | None) -> None:
    """`subscribe`: following again clears the unfollow; the first scene is the source."""
    identity.subscribed = True
    identity.unsubscribed_at = None
    if scene and not identity.source:
        identity.source = scene[:128]


def unfollow(identity: WechatIdentity) -> None:
    """`unsubscribe`: nothing may be sent to this identity any more."""
    identity.subscribed = False
    identity.unsubscribed_at = utcnow()


def record_source(identity: WechatIdentity, source: str) -> None:
    """Where the user came from (QR scene, mini-program SessionFrom), if not known yet."""
    if source and not identity.source:
        identity.source = source[:128]


def add_subscription_credit(
    session: Session, identity: WechatIdentity, template_id: str, count: int = 1
) -> SubscriptionCredit:
    """The user accepted `count` more sends of a subscribe-message template."""
    credit = session.scalars(
        select(SubscriptionCredit).where(
            SubscriptionCredit.identity_id == identity.id,
            SubscriptionCredit.template_id == template_id,
        )
    ).one_or_none()
    if credit is None:
        credit = SubscriptionCredit(identity_id=identity.id, template_id=template_id, remaining=0)
        session.add(credit)
    credit.remaining += count
    session.flush()
    return credit


def spend_subscription_credit(session: Session, identity: WechatIdentity, template_id: str) -> bool:
    """Use one acceptance, atomically; False when none is left."""
    result = session.execute(
        update(SubscriptionCredit)
        .where(
            SubscriptionCredit.identity_id == identity.id,
            SubscriptionCredit.template_id == template_id,
            SubscriptionCredit.remaining > 0,
        )
        .values(remaining=SubscriptionCredit.remaining - 1)
    )
    return rowcount(result) > 0


def link_unionid(session: Session, identity: WechatIdentity, unionid: str) -> WechatIdentity:
    """Record the unionid; if another identity of that person exists, move this identity and its
    conversations to that person's customer record (their data is then seen together)."""
    identity.unionid = unionid
    sibling = session.scalars(
        select(WechatIdentity)
        .where(WechatIdentity.unionid == unionid, WechatIdentity.id != identity.id)
        .limit(1)
    ).first()
    if sibling is not None and sibling.customer_id != identity.customer_id:
        session.execute(
            update(Conversation)
            .where(Conversation.identity_id == identity.id)
            .values(customer_id=sibling.customer_id)
        )
        identity.customer_id = sibling.customer_id
    session.flush()
    return identity


def bind_phone(session: Session, customer: Customer, phone: str) -> Customer:
    """Record the customer's verified mobile number and claim the purchases made under it."""
    try:
        number = normalize_mobile(phone)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    digest = phone_digest(number)
    owner = session.scalars(select(Customer).where(Customer.phone_hash == digest)).one_or_none()
    if owner is not None and owner.id != customer.id:
        raise Conflict("this mobile number is bound to another member")
    try:
        with session.begin_nested():
            customer.phone = number
            session.flush()
    except IntegrityError as exc:
        # Another request bound the same number between our check and our write.
        raise Conflict("this mobile number is bound to another member") from exc
    session.execute(
        update(Purchase)
        .where(Purchase.member_phone_hash == digest, Purchase.customer_id.is_(None))
        .values(customer_id=customer.id)
    )
    return customer
