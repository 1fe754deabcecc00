"""A copy of everything we hold about a person (PIPL Art. 45): requested, approved by an admin,
then downloaded as JSON by the admin who hands it over. The file is built at download time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation, Message
from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.db import as_utc, utcnow
from crm.errors import Conflict, NotFound
from crm.handoff.models import Handoff
from crm.points.ledger import balance_of
from crm.points.models import PointsEntry
from crm.privacy.models import APPROVED, CANCELLED, EXPORT, PENDING, REFUSED, DataRequest
from crm.privacy.rights import is_erased, purchases_of
from crm.purchases.models import Purchase
from crm.tickets.models import RepairTicket

# How long an approved export stays downloadable.
AVAILABLE_FOR = timedelta(days=7)


def request_export(session: Session, customer_id: int, channel: str, by: str) -> DataRequest:
    """File an export request (or return the one already pending or downloadable)."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"客户 {customer_id} 不存在")
    if is_erased(session, customer_id):
        raise Conflict("该客户的个人信息已删除，没有可导出的内容")
    open_ones = select(DataRequest).where(
        DataRequest.customer_id == customer_id,
        DataRequest.kind == EXPORT,
        DataRequest.status.in_((PENDING, APPROVED)),
    )
    for existing in session.scalars(open_ones.order_by(DataRequest.id.desc())):
        if existing.status == PENDING or _downloadable(existing):
            return existing
    request = DataRequest(
        customer_id=customer_id, kind=EXPORT, status=PENDING, channel=channel, requested_by=by
    )
    session.add(request)
    session.flush()
    return request


def get_request(session: Session, request_id: int, lock: bool = False) -> DataRequest:
    """A data request by id (row-locked when `lock`)."""
    stmt = select(DataRequest).where(DataRequest.id == request_id)
    found = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if found is None:
        raise NotFound(f"申请 {request_id} 不存在")
    return found


def decide(session: Session, request_id: int, approve: bool, by: str) -> DataRequest:
    """Approve (downloadable for AVAILABLE_FOR) or refuse a pending export request."""
    request = get_request(session, request_id, lock=True)
    if request.kind != EXPORT or request.status != PENDING:
        raise Conflict("这个申请已经处理过了")
    now = utcnow()
    request.status = APPROVED if approve else REFUSED
    request.decided_by, request.decided_at = by[:64], now
    request.available_until = now + AVAILABLE_FOR if approve else None
    session.flush()
    return request


def cancel_open_exports(session: Session, customer_id: int) -> int:
    """Cancel the customer's pending or approved exports (nothing is left to export); how many."""
    stmt = select(DataRequest).where(
        DataRequest.customer_id == customer_id,
        DataRequest.kind == EXPORT,
        DataRequest.status.in_((PENDING, APPROVED)),
    )
    found = list(session.scalars(stmt))
    for request in found:
        request.status, request.available_until = CANCELLED, None
    session.flush()
    return len(found)


def download(session: Session, request_id: int) -> dict[str, Any]:
    """The export of an approved, still-available request (counted); Conflict otherwise."""
    request = get_request(session, request_id, lock=True)
    if request.kind != EXPORT or not _downloadable(request):
        raise Conflict("只有已批准且在有效期内的导出申请才能下载")
    request.downloads += 1
    session.flush()
    return export_data(session, request.customer_id, request.id)


def _downloadable(request: DataRequest) -> bool:
    until = request.available_until
    return request.status == APPROVED and until is not None and as_utc(until) > utcnow()


def export_data(
    session: Session, customer_id: int, request_id: int | None = None
) -> dict[str, Any]:
    """Everything we hold about the customer, as plain JSON-ready values."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"客户 {customer_id} 不存在")
    return {
        "request_id": request_id,
        "exported_at": _iso(utcnow()),
        "customer": {
            "id": customer.id,
            "display_name": customer.display_name,
            "phone": customer.phone,
            "birthday": _iso(customer.birthday),
            "tier": customer.tier,
            "tier_since": _iso(customer.tier_since),
            "created_at": _iso(customer.created_at),
        },
        "wechat_identities": [
            {
                "appid": i.appid,
                "openid": i.openid,
                "unionid": i.unionid,
                "subscribed": i.subscribed,
                "source": i.source,
                "first_seen_at": _iso(i.created_at),
                "last_seen_at": _iso(i.last_seen_at),
            }
            for i in customer.identities
        ],
        "points": {
            "balance": balance_of(session, customer_id),
            "ledger": _ledger(session, customer),
        },
        "coupons": _coupons(session, customer),
        "purchases": _purchases(session, customer),
        "repair_tickets": _tickets(session, customer),
        "conversations": _conversations(session, customer),
        "handoffs": _handoffs(session, customer),
    }


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _ledger(session: Session, customer: Customer) -> list[dict[str, Any]]:
    stmt = select(PointsEntry).where(PointsEntry.customer_id == customer.id)
    return [
        {
            "at": _iso(e.created_at),
            "amount": e.amount,
            "kind": e.kind,
            "reason": e.reason,
            "ref": e.ref,
            "expires_on": _iso(e.expires_on),
        }
        for e in session.scalars(stmt.order_by(PointsEntry.id))
    ]


def _coupons(session: Session, customer: Customer) -> list[dict[str, Any]]:
    stmt = select(Coupon).where(Coupon.customer_id == customer.id).order_by(Coupon.id)
    return [
        {
            "code": c.code,
            "name": c.name,
            "status": c.status,
            "valid_from": _iso(c.valid_from),
            "valid_until": _iso(c.valid_until),
            "redeemed_order_no": c.redeemed_order_no,
        }
        for c in session.scalars(stmt)
    ]


def _purchases(session: Session, customer: Customer) -> list[dict[str, Any]]:
    stmt = select(Purchase).where(purchases_of(customer)).order_by(Purchase.paid_at)
    return [
        {
            "order_no": p.order_no,
            "source": p.source,
            "sku": p.sku,
            "price_yuan": str(p.price_yuan),
            "paid_at": _iso(p.paid_at),
            "store_id": p.store_id,
            "member_phone": p.member_phone,
        }
        for p in session.scalars(stmt)
    ]


def _tickets(session: Session, customer: Customer) -> list[dict[str, Any]]:
    stmt = select(RepairTicket).where(RepairTicket.customer_id == customer.id)
    return [
        {
            "number": t.number,
            "product": t.product_name,
            "fault": t.fault,
            "state": t.state,
            "contact_phone": t.contact_phone,
            "service_method": t.service_method,
            "diagnosis": t.diagnosis,
            "quote_yuan": None if t.quote_yuan is None else str(t.quote_yuan),
            "rating": t.rating,
            "created_at": _iso(t.created_at),
            "events": [
                {"at": _iso(e.at), "to_state": e.to_state, "note": e.note} for e in t.events
            ],
        }
        for t in session.scalars(stmt.order_by(RepairTicket.id))
    ]


def _conversations(session: Session, customer: Customer) -> list[dict[str, Any]]:
    stmt = select(Conversation).where(Conversation.customer_id == customer.id)
    return [
        {
            "channel": c.channel,
            "started_at": _iso(c.created_at),
            "messages": [_message(m) for m in c.messages],
        }
        for c in session.scalars(stmt.order_by(Conversation.id))
    ]


def _message(m: Message) -> dict[str, Any]:
    return {
        "at": _iso(m.created_at),
        "direction": m.direction,
        "type": m.msg_type,
        "content": m.content,
        "media_url": m.media_url,
    }


def _handoffs(session: Session, customer: Customer) -> list[dict[str, Any]]:
    stmt = select(Handoff).where(Handoff.customer_id == customer.id).order_by(Handoff.id)
    return [
        {
            "reason": h.reason,
            "state": h.state,
            "queued_at": _iso(h.queued_at),
            "resolved_at": _iso(h.resolved_at),
            "note": h.note,
        }
        for h in session.scalars(stmt)
    ]


def requests_of(session: Session, customer_id: int) -> list[DataRequest]:
    """The customer's data requests (exports and erasures), newest first."""
    stmt = select(DataRequest).where(DataRequest.customer_id == customer_id)
    return list(session.scalars(stmt.order_by(DataRequest.id.desc())))


def open_exports(session: Session, limit: int = 100) -> list[DataRequest]:
    """Export requests waiting for an admin, oldest first."""
    stmt = select(DataRequest).where(DataRequest.kind == EXPORT, DataRequest.status == PENDING)
    return list(session.scalars(stmt.order_by(DataRequest.id).limit(limit)))


def downloadable(request: DataRequest) -> bool:
    """True while an approved export can be downloaded."""
    return _downloadable(request)
