"""Erasing a person (PIPL Art. 47): their personal data is deleted or made unreadable everywhere;
what accounting needs (ledger amounts, sales, coupon and ticket outcomes) stays, linked only to an
anonymous customer shell.

Every change goes through ORM attributes (never raw SQL on personal columns): the encryption at
rest and its *_hash columns follow the attributes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation, Message
from crm.coupons.models import ISSUED, VOID, Coupon
from crm.customers.models import Customer, SubscriptionCredit
from crm.db import utcnow
from crm.errors import Conflict, NotFound
from crm.handoff.models import Handoff
from crm.handoff.service import OPEN as HANDOFF_OPEN
from crm.handoff.service import close as close_handoff
from crm.integration.models import IdempotencyRecord
from crm.outbox.models import OutboxItem
from crm.points import service as points
from crm.points.ledger import balance_of
from crm.privacy.export import cancel_open_exports
from crm.privacy.models import DONE, ERASURE, DataRequest
from crm.privacy.rights import is_erased, purchases_of
from crm.purchases.models import Purchase
from crm.tickets import lifecycle, states
from crm.tickets.models import RepairTicket, TicketEvent

ERASED_TEXT = "[已删除]"
# The ledger line that forfeits the balance; its staff/ref names the process, not a person.
FORFEIT_REASON = "个人信息删除，剩余积分作废"
FORFEIT_BY = "privacy-erasure"
# Tickets still in the customer's name with the tool in our hands (or on its way back): the
# contact phone is what returns their property, so erasure waits until these are finished.
HOLDING_TOOL = states.OPEN_STATES - {states.SUBMITTED}


class ErasureBlocked(Conflict):
    """Open repair tickets hold the customer's tool: erase after they are finished."""

    def __init__(self, numbers: list[str]) -> None:
        super().__init__(
            f"您还有 {len(numbers)} 张维修单正在处理（{'、'.join(numbers)}），"
            "工具在我们这里或正在寄回，需要您的联系方式才能交还给您。请等维修完成、取回工具后再申请删除。"
        )
        self.numbers = numbers


@dataclass
class Erasure:
    """What an erasure did (counts only: nothing personal)."""

    customer_id: int
    already: bool = False
    request_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    # Rasa's ids for the person's conversations ("appid:openid"), to forget there too.
    senders: list[str] = field(default_factory=list, repr=False)


def blocking_tickets(session: Session, customer_id: int) -> list[str]:
    """Numbers of the customer's tickets that hold their tool."""
    stmt = select(RepairTicket.number).where(
        RepairTicket.customer_id == customer_id, RepairTicket.state.in_(HOLDING_TOOL)
    )
    return list(session.scalars(stmt.order_by(RepairTicket.id)))


def erase(
    session: Session, customer_id: int, channel: str, by: str, request: DataRequest | None = None
) -> Erasure:
    """Erase the customer's personal data everywhere; a second call changes nothing.

    ErasureBlocked while a ticket holds their tool; a ticket not yet handed over is cancelled.
    `request` is the pending erasure this carries out (else one is recorded as done).
    """
    customer = session.scalars(
        select(Customer).where(Customer.id == customer_id).with_for_update()
    ).one_or_none()
    if customer is None:
        raise NotFound(f"客户 {customer_id} 不存在")
    if is_erased(session, customer_id):
        return Erasure(customer_id, already=True)
    blocked = blocking_tickets(session, customer_id)
    if blocked:
        raise ErasureBlocked(blocked)
    done = Erasure(customer_id)
    openids = [i.openid for i in customer.identities]
    done.senders = [f"{i.appid}:{i.openid}" for i in customer.identities]
    messages = _message_ids(session, customer_id)
    # Order matters: the purchases are found by the phone before it is erased, the outbox by
    # the openids before they are replaced.
    done.counts["purchases"] = _purchases(session, customer)
    done.counts["tickets"] = _tickets(session, customer_id)
    done.counts["points_forfeited"] = _forfeit_points(session, customer_id)
    done.counts["coupons_voided"] = _void_coupons(session, customer_id)
    done.counts["outbox"] = _outbox(session, openids, messages)
    done.counts["replays"] = _replays(session, customer.phone)
    done.counts["handoffs"] = _handoffs(session, customer_id)
    done.counts["messages"] = _messages(session, messages)
    done.counts["identities"] = _identities(session, customer)
    done.counts["exports_cancelled"] = cancel_open_exports(session, customer_id)
    _customer(customer)
    if request is None:
        request = DataRequest(
            customer_id=customer_id, kind=ERASURE, channel=channel, requested_by=by[:64]
        )
        session.add(request)
    request.status, request.decided_by, request.decided_at = DONE, by[:64], utcnow()
    session.flush()
    done.request_id = request.id
    return done


def _message_ids(session: Session, customer_id: int) -> list[int]:
    conversations = select(Conversation.id).where(Conversation.customer_id == customer_id)
    stmt = select(Message.id).where(Message.conversation_id.in_(conversations))
    return list(session.scalars(stmt))


def _customer(customer: Customer) -> None:
    customer.display_name = None
    customer.phone = None
    customer.phone_bound_at = None
    customer.birthday = None
    customer.tier = "普通会员"
    customer.tier_since = None


def _identities(session: Session, customer: Customer) -> int:
    """A random openid (not derived from the real one): the next message starts a new customer."""
    for identity in customer.identities:
        identity.openid = f"erased-{secrets.token_hex(16)}"
        identity.unionid = None
        identity.source = None
        identity.subscribed = False
        identity.last_seen_at = identity.last_interaction_at = None
        identity.unsubscribed_at = utcnow()
        session.execute(
            delete(SubscriptionCredit).where(SubscriptionCredit.identity_id == identity.id)
        )
    for conversation in session.scalars(
        select(Conversation).where(Conversation.customer_id == customer.id)
    ):
        conversation.state, conversation.bot_paused = "bot", False
    session.flush()
    return len(customer.identities)


def _messages(session: Session, ids: list[int]) -> int:
    for message in session.scalars(select(Message).where(Message.id.in_(ids))):
        message.content = ERASED_TEXT
        message.raw = message.media_id = message.media_url = message.error = None
        message.dedup_key = None  # an event's key holds the openid
        message.wechat_msg_id = None
        if message.direction == "in" and message.status == "pending":
            message.status = None  # never replayed to the bot: its text is gone
    session.flush()
    return len(ids)


def _outbox(session: Session, openids: list[str], message_ids: list[int]) -> int:
    """Nothing more is sent; the payloads (recipient, text) are emptied."""
    stmt = select(OutboxItem).where(
        or_(OutboxItem.openid.in_(openids), OutboxItem.message_id.in_(message_ids))
    )
    items = list(session.scalars(stmt))
    for item in items:
        item.openid = "erased"
        item.payload, item.fallback = {}, None
        item.last_error = item.receipt = item.idempotency_key = None
        if item.status in ("pending", "sending"):
            item.status = "cancelled"
    session.flush()
    return len(items)


def _replays(session: Session, phone: str | None) -> int:
    """Remembered integration answers naming the phone (a replay cache, safe to forget)."""
    if not phone:
        return 0
    stmt = select(IdempotencyRecord).where(cast(IdempotencyRecord.response, String).contains(phone))
    found = list(session.scalars(stmt))
    for record in found:
        session.delete(record)
    session.flush()
    return len(found)


def _handoffs(session: Session, customer_id: int) -> int:
    found = list(session.scalars(select(Handoff).where(Handoff.customer_id == customer_id)))
    for handoff in found:
        if handoff.state in HANDOFF_OPEN:
            close_handoff(handoff, "erased")
            handoff.version += 1  # a page still showing it open is stale now
        handoff.note = None
    session.flush()
    return len(found)


def _purchases(session: Session, customer: Customer) -> int:
    """Sales stay (accounting); the phone the till recorded goes."""
    found = list(session.scalars(select(Purchase).where(purchases_of(customer))))
    for purchase in found:
        purchase.member_phone = None
    session.flush()
    return len(found)


def _tickets(session: Session, customer_id: int) -> int:
    """Not yet handed over: cancelled. All: contact, fault, proof and notes erased."""
    found = list(
        session.scalars(select(RepairTicket).where(RepairTicket.customer_id == customer_id))
    )
    for ticket in found:
        if ticket.state == states.SUBMITTED:
            lifecycle.transition(
                session, ticket, states.CANCELLED, "system", "客户申请删除个人信息"
            )
        ticket.contact_phone = ""
        ticket.fault = ERASED_TEXT
        ticket.diagnosis = None
        ticket.proof_ref = None
        ticket.idempotency_key = f"erased-{secrets.token_hex(16)}"  # it held the openid
        for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)):
            event.note = None
    session.flush()
    return len(found)


def _forfeit_points(session: Session, customer_id: int) -> int:
    """The balance is written off by one ledger line, so the sums still balance."""
    left = balance_of(session, customer_id)
    if left > 0:
        key = f"erasure:{customer_id}"
        points.adjust(session, customer_id, -left, FORFEIT_REASON, FORFEIT_BY, key)
    return left


def _void_coupons(session: Session, customer_id: int) -> int:
    stmt = select(Coupon).where(Coupon.customer_id == customer_id, Coupon.status == ISSUED)
    found = list(session.scalars(stmt))
    for coupon in found:
        coupon.status = VOID
    session.flush()
    return len(found)
