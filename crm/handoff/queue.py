"""What the agents' queue shows: waiting, in progress and left-message conversations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.conversations.models import Message
from crm.customers.models import Customer
from crm.db import as_utc, utcnow
from crm.handoff.models import REASONS, Handoff
from crm.handoff.service import OPEN, Actor
from crm.privacy.masking import mask_name
from crm.staff.models import StaffUser
from crm.staff.service import can_see_store

PREVIEW_CHARS = 40


@dataclass(frozen=True)
class QueueItem:
    """One conversation in the queue, as a row of the page."""

    id: int
    version: int
    state: str
    customer: str
    reason: str
    left_message: bool
    store_id: str | None
    queued_at: datetime
    waited_minutes: int
    agent: str | None
    mine: bool
    last_text: str


@dataclass(frozen=True)
class Queue:
    """The queue as one agent sees it."""

    waiting: list[QueueItem]
    mine: list[QueueItem]
    others: list[QueueItem]
    messages: list[QueueItem]


def queue_for(session: Session, actor: Actor) -> Queue:
    """Open handoffs the actor may see, split the way the page shows them."""
    rows = session.execute(
        select(Handoff, Customer, StaffUser)
        .join(Customer, Handoff.customer_id == Customer.id)
        .outerjoin(StaffUser, Handoff.agent_id == StaffUser.id)
        .where(Handoff.state.in_(OPEN))
        .order_by(Handoff.queued_at)
    ).all()
    items = [_item(session, h, c, a, actor) for h, c, a in rows if can_see_store(actor, h.store_id)]
    return Queue(
        waiting=[i for i in items if i.state == "queued" and not i.left_message],
        mine=[i for i in items if i.mine],
        others=[i for i in items if i.state == "assigned" and not i.mine],
        messages=[i for i in items if i.state == "queued" and i.left_message],
    )


def _item(
    session: Session, h: Handoff, customer: Customer, agent: StaffUser | None, actor: Actor
) -> QueueItem:
    last = session.scalars(
        select(Message.content)
        .where(Message.conversation_id == h.conversation_id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    waited = utcnow() - as_utc(h.queued_at)
    return QueueItem(
        id=h.id,
        version=h.version,
        state=h.state,
        customer=mask_name(customer.display_name) or f"顾客 #{customer.id}",
        reason=REASONS.get(h.reason, h.reason),
        left_message=h.left_message,
        store_id=h.store_id,
        queued_at=h.queued_at,
        waited_minutes=max(0, int(waited.total_seconds() // 60)),
        agent=agent.display_name if agent else None,
        mine=h.state == "assigned" and h.agent_id == actor.id,
        last_text=(last or "")[:PREVIEW_CHARS],
    )


def transfer_targets(session: Session, handoff: Handoff, actor: Actor) -> list[Actor]:
    """Active colleagues who may take this conversation over."""
    users = session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.id != actor.id)
    ).all()
    targets = [Actor(u.id, u.display_name, u.role, u.store_id) for u in users]
    return [t for t in targets if can_see_store(t, handoff.store_id)]


def actor_of(session: Session, user_id: int) -> Actor | None:
    """A staff member as an actor, if active."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    return Actor(user.id, user.display_name, user.role, user.store_id)
