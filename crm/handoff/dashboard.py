"""The supervisors' dashboard: containment, handoffs by reason, queue wait, satisfaction,
unanswered questions and repair tickets, over a window and optionally for one store."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation, Message
from crm.customers.panel import home_store
from crm.db import as_utc
from crm.handoff.models import REASONS, Handoff
from crm.knowledge.unanswered import UnansweredQuestion, top_unanswered
from crm.tickets import lifecycle, states
from crm.tickets.models import RepairTicket
from crm.tickets.service import LOW_RATING

TOP_UNANSWERED = 10


@dataclass(frozen=True)
class Bar:
    """One labelled count, with its share of the largest (for the chart)."""

    label: str
    count: int
    share: float


@dataclass(frozen=True)
class ReasonBar(Bar):
    """Handoffs for one reason (a key of REASONS), and their number per conversation."""

    reason: str
    rate: float | None


@dataclass(frozen=True)
class Dashboard:
    """The figures of the window [since, until), for one store or all."""

    since: datetime
    until: datetime
    store_id: str | None
    conversations: int  # with an inbound text message in the window
    contained: int  # of those, without a handoff queued in the window
    handoffs: int  # queued in the window
    by_reason: list[ReasonBar]  # most frequent first
    median_wait_seconds: float | None  # live handoffs (no left message) assigned in the window
    waiting_now: int  # queued live now
    messages_waiting: int  # left messages nobody has taken yet
    ratings: int  # repair ratings asked for in the window and given
    average_rating: float | None
    low_ratings: int  # at most LOW_RATING
    unanswered: list[UnansweredQuestion]  # the 10 most asked, not yet turned into an FAQ
    tickets_by_state: list[Bar]  # tickets opened in the window, by their state now
    overdue: int  # open tickets past their due date today, whenever opened

    @property
    def containment(self) -> float | None:
        """Share of conversations the bot finished without a human."""
        return self.contained / self.conversations if self.conversations else None

    @property
    def handoff_rate(self) -> float | None:
        """Handoffs per conversation."""
        return self.handoffs / self.conversations if self.conversations else None

    @property
    def low_rating_share(self) -> float | None:
        """Share of the ratings that were low."""
        return self.low_ratings / self.ratings if self.ratings else None


def dashboard_figures(
    session: Session, since: datetime, until: datetime, store_id: str | None = None
) -> Dashboard:
    """Every figure of [since, until); with `store_id`, only that store's customers, handoffs
    and tickets (a conversation belongs to its customer's home store as it is now)."""
    talked = _talked(since, until, store_id)
    conversations = set(session.scalars(talked))
    handed = set(
        session.scalars(
            select(Handoff.conversation_id).where(
                _within(Handoff.queued_at, since, until), Handoff.conversation_id.in_(talked)
            )
        )
    )
    reasons = Counter(
        session.scalars(
            select(Handoff.reason).where(
                *_at(Handoff.store_id, store_id), _within(Handoff.queued_at, since, until)
            )
        )
    )
    queued = Counter(
        session.scalars(
            select(Handoff.left_message).where(
                *_at(Handoff.store_id, store_id), Handoff.state == "queued"
            )
        )
    )
    scores = _ratings(session, since, until, store_id)
    return Dashboard(
        since=since,
        until=until,
        store_id=store_id,
        conversations=len(conversations),
        contained=len(conversations - handed),
        handoffs=sum(reasons.values()),
        by_reason=_reason_bars(reasons, len(conversations)),
        median_wait_seconds=_median_wait(session, since, until, store_id),
        waiting_now=queued[False],
        messages_waiting=queued[True],
        ratings=len(scores),
        average_rating=statistics.fmean(scores) if scores else None,
        low_ratings=sum(1 for score in scores if score <= LOW_RATING),
        unanswered=top_unanswered(session, since, until, TOP_UNANSWERED, conversations=talked),
        tickets_by_state=_ticket_bars(session, since, until, store_id),
        overdue=_overdue(session, store_id),
    )


def _within(column: Any, since: datetime, until: datetime) -> ColumnElement[bool]:
    return and_(column >= since, column < until)


def _at(column: Any, store_id: str | None) -> list[ColumnElement[bool]]:
    """The condition «of this store» when one is asked for, else none."""
    return [] if store_id is None else [column == store_id]


def _talked(since: datetime, until: datetime, store_id: str | None) -> Select[int]:
    """Ids of the conversations with an inbound text in the window (of the store's customers)."""
    stmt = select(Message.conversation_id).where(
        Message.direction == "in",
        Message.msg_type == "text",
        _within(Message.created_at, since, until),
    )
    if store_id is not None:
        stmt = stmt.join(Conversation, Conversation.id == Message.conversation_id).where(
            home_store(Conversation.customer_id) == store_id
        )
    return stmt.distinct()


def _reason_bars(reasons: Counter[str], conversations: int) -> list[ReasonBar]:
    """The most frequent first, ties in the order of REASONS."""
    top = max(reasons.values(), default=0)
    order = {reason: place for place, reason in enumerate(REASONS)}
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], order.get(item[0], len(order))))
    return [
        ReasonBar(
            label=REASONS.get(reason, reason),
            count=n,
            share=n / top,
            reason=reason,
            rate=n / conversations if conversations else None,
        )
        for reason, n in ranked
    ]


def _median_wait(
    session: Session, since: datetime, until: datetime, store_id: str | None
) -> float | None:
    """Left messages wait for the next opening hours and would drown the live queue's wait."""
    rows = session.execute(
        select(Handoff.queued_at, Handoff.assigned_at).where(
            *_at(Handoff.store_id, store_id),
            _within(Handoff.assigned_at, since, until),
            Handoff.left_message.is_(False),
        )
    )
    waits = [
        (as_utc(assigned) - as_utc(queued)).total_seconds()
        for queued, assigned in rows
        if assigned is not None
    ]
    # A window holds few handoffs (a busy month is thousands of rows), so the median is taken
    # here in Python, the same on PostgreSQL and SQLite (which has no percentile function).
    return statistics.median(waits) if waits else None


def _ratings(session: Session, since: datetime, until: datetime, store_id: str | None) -> list[int]:
    """No column records when a rating came in; it is only taken within RATING_OPEN (7 days) of
    the question, so it is counted in the window the question was asked."""
    rated = session.scalars(
        select(RepairTicket.rating).where(
            *_at(RepairTicket.store_id, store_id),
            RepairTicket.rating.is_not(None),
            _within(RepairTicket.rating_asked_at, since, until),
        )
    )
    return [score for score in rated if score is not None]


def _ticket_bars(
    session: Session, since: datetime, until: datetime, store_id: str | None
) -> list[Bar]:
    """In the lifecycle's order, so the chart reads like the repair's progress."""
    opened = Counter(
        session.scalars(
            select(RepairTicket.state).where(
                *_at(RepairTicket.store_id, store_id),
                _within(RepairTicket.created_at, since, until),
            )
        )
    )
    top = max(opened.values(), default=0)
    return [Bar(states.label(s), opened[s], opened[s] / top) for s in states.STATES if opened[s]]


def _overdue(session: Session, store_id: str | None) -> int:
    open_tickets = session.scalars(
        select(RepairTicket).where(
            *_at(RepairTicket.store_id, store_id), RepairTicket.state.in_(states.OPEN_STATES)
        )
    )
    return sum(1 for ticket in open_tickets if lifecycle.is_overdue(ticket))
