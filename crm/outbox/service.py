"""Enqueueing outbound messages and recording what became of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from crm.conversations.models import Message
from crm.db import rowcount, utcnow
from crm.outbox.models import OutboxItem

UNFINISHED = ("pending", "sending")
MAX_ATTEMPTS = 8
IDEMPOTENT_KINDS = {"template"}  # carry client_msg_id: WeChat drops a repeat
# Items a delivery round claims at most.
CLAIM_LIMIT = 20


def enqueue(
    session: Session,
    *,
    appid: str,
    openid: str,
    kind: str,
    payload: dict[str, Any],
    message_id: int | None = None,
    idempotency_key: str | None = None,
    fallback: dict[str, Any] | None = None,
) -> OutboxItem:
    """Add a message to send; the same idempotency key returns the existing item."""
    if idempotency_key:
        existing = session.scalars(
            select(OutboxItem).where(OutboxItem.idempotency_key == idempotency_key)
        ).one_or_none()
        if existing is not None:
            return existing
    item = OutboxItem(
        appid=appid,
        openid=openid,
        kind=kind,
        payload=payload,
        message_id=message_id,
        idempotency_key=idempotency_key,
        fallback=fallback,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(item)
    session.flush()
    return item


def claim_due(
    session: Session, limit: int = CLAIM_LIMIT, lease_seconds: int = 30
) -> list[OutboxItem]:
    """Due items, each the oldest unfinished one of its recipient, marked as being sent."""
    now = utcnow()
    earlier = aliased(OutboxItem)
    blocked = exists().where(
        and_(
            earlier.appid == OutboxItem.appid,
            earlier.openid == OutboxItem.openid,
            earlier.id < OutboxItem.id,
            earlier.status.in_(UNFINISHED),
        )
    )
    stmt = (
        select(OutboxItem)
        .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now, ~blocked)
        .order_by(OutboxItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxItem)
    )
    items = list(session.scalars(stmt))
    for item in items:
        item.status = "sending"
        item.attempts += 1
        item.lease_until = now + timedelta(seconds=lease_seconds)
    session.flush()
    return items


def preload(session: Session, item_ids: list[int]) -> None:
    """Load items and their messages in two queries, so that marking many costs no query each."""
    items = session.scalars(select(OutboxItem).where(OutboxItem.id.in_(item_ids))).all()
    message_ids = [item.message_id for item in items if item.message_id is not None]
    if message_ids:
        session.scalars(select(Message).where(Message.id.in_(message_ids))).all()


def mark_sent(session: Session, item_id: int, wechat_msgid: int | None = None) -> None:
    """The message went out."""
    item = session.get(OutboxItem, item_id)
    if item is None:
        return
    item.status, item.sent_at, item.wechat_msgid = "sent", utcnow(), wechat_msgid
    item.lease_until = None
    _sync_message(session, item, "sent", None)


def mark_failed(
    session: Session, item_id: int, errcode: int | None, error: str, retry: bool
) -> OutboxItem | None:
    """A send failed: back off and retry, or give up after MAX_ATTEMPTS or when told not to."""
    item = session.get(OutboxItem, item_id)
    if item is None:
        return None
    item.errcode, item.last_error, item.lease_until = errcode, error[:500], None
    if retry and item.attempts < MAX_ATTEMPTS:
        item.status = "pending"
        item.next_attempt_at = utcnow() + timedelta(seconds=min(300, 2**item.attempts))
    else:
        item.status = "failed"
        _sync_message(session, item, "failed", error)
    session.flush()
    return item


def mark_unknown(session: Session, item_id: int, error: str) -> None:
    """A send that may or may not have reached WeChat (it never answered): not repeated."""
    item = session.get(OutboxItem, item_id)
    if item is None:
        return
    item.status, item.last_error, item.lease_until = "unknown", error[:500], None
    _sync_message(session, item, "unknown", error)


def enqueue_fallback(session: Session, item_id: int) -> OutboxItem | None:
    """Queue the item's fallback (a notification) after WeChat refused it as out of window."""
    item = session.get(OutboxItem, item_id)
    if item is None or not item.fallback:
        return None
    return enqueue(
        session,
        appid=item.appid,
        openid=item.openid,
        kind=item.fallback["kind"],
        payload=item.fallback["payload"],
        message_id=item.message_id,
        idempotency_key=f"fallback-of-{item.id}",
    )


def recover_expired_leases(session: Session, now: datetime | None = None) -> int:
    """Items whose sender died mid-send: idempotent kinds go back to pending, others to unknown."""
    now = now or utcnow()
    expired = (OutboxItem.status == "sending") & (OutboxItem.lease_until < now)
    retried = session.execute(
        update(OutboxItem)
        .where(expired, OutboxItem.kind.in_(IDEMPOTENT_KINDS))
        .values(status="pending", lease_until=None)
    )
    unknown = session.execute(
        update(OutboxItem)
        .where(expired, OutboxItem.kind.not_in(IDEMPOTENT_KINDS))
        .values(status="unknown", lease_until=None, last_error="sender stopped mid-send")
    )
    return rowcount(retried) + rowcount(unknown)


def cancel_pending(session: Session, appid: str, openid: str, reason: str) -> int:
    """Cancel everything not yet sent to a user (e.g. after `unsubscribe`)."""
    result = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.appid == appid, OutboxItem.openid == openid, OutboxItem.status == "pending"
        )
        .values(status="cancelled", last_error=reason)
    )
    return rowcount(result)


def record_receipt(session: Session, wechat_msgid: int, status: str) -> bool:
    """A template delivery receipt (TEMPLATESENDJOBFINISH): True when the item was found."""
    item = session.scalars(
        select(OutboxItem).where(OutboxItem.wechat_msgid == wechat_msgid)
    ).first()
    if item is None:
        return False
    item.receipt = status[:64]
    session.flush()
    return True


def _sync_message(session: Session, item: OutboxItem, status: str, error: str | None) -> None:
    if item.message_id is not None:
        message = session.get(Message, item.message_id)
        if message is not None:
            message.status, message.error = status, error
    session.flush()
