"""The handoff clock: nobody free within N minutes → leave a message; silent for 30 → the bot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations.models import Conversation
from crm.db import utcnow
from crm.handoff import replies
from crm.handoff.models import Handoff
from crm.handoff.service import OPEN, close, send_if_open

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep changed (handoff ids)."""

    offered_message: list[int]
    back_to_bot: list[int]


def sweep(session: Session, now: datetime | None = None) -> SweepReport:
    """Apply both timeouts once; safe to run from several processes (rows are locked)."""
    now = now or utcnow()
    settings = get_settings()
    offered = _offer_messages(
        session, now - timedelta(minutes=settings.handoff_queue_timeout_minutes)
    )
    idle = _end_idle(session, now - timedelta(minutes=settings.handoff_idle_minutes))
    session.flush()
    if offered or idle:
        log.info("handoff sweep: %d offered a message, %d back to the bot", len(offered), len(idle))
    return SweepReport(offered, idle)


def _offer_messages(session: Session, queued_before: datetime) -> list[int]:
    stale = session.scalars(
        select(Handoff)
        .where(
            Handoff.state == "queued",
            Handoff.left_message.is_(False),
            Handoff.queued_at < queued_before,
        )
        .with_for_update(skip_locked=True)
    ).all()
    minutes = get_settings().handoff_queue_timeout_minutes
    for handoff in stale:
        handoff.left_message = True
        handoff.version += 1
        send_if_open(session, handoff, replies.nobody_free(minutes), None)
    return [h.id for h in stale]


def _end_idle(session: Session, silent_since: datetime) -> list[int]:
    """Conversations with a human (or a left message) where nobody spoke since `silent_since`."""
    rows = session.execute(
        select(Handoff, Conversation)
        .join(Conversation, Handoff.conversation_id == Conversation.id)
        .where(
            Handoff.state.in_(OPEN),
            Conversation.state.in_(OPEN),
            Conversation.last_message_at < silent_since,
        )
        .with_for_update(of=Handoff, skip_locked=True)
    ).all()
    for handoff, conversation in rows:
        handoff.version += 1
        if handoff.state == "assigned":
            send_if_open(session, handoff, replies.idle_ended(), None)
            close(handoff, "idle")
        else:  # a left message stays in the queue for an agent; the bot answers meanwhile
            send_if_open(session, handoff, replies.message_kept(), None)
            conversation.state = "bot"
    return [h.id for h, _ in rows]
