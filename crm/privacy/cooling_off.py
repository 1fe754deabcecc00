"""An erasure the customer asks for waits out the privacy policy's 7-day cooling-off
(POL-PRV-007, faq-082): logging in to the mini-program again, or 「撤销注销」 in chat, withdraws
it; when it ends, the daily job erases them. (An admin acting on a request from another channel
erases at once: see erasure.erase.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.db import SHANGHAI, as_utc, utcnow
from crm.privacy import erasure
from crm.privacy.models import CANCELLED, ERASURE, PENDING, DataRequest

log = logging.getLogger(__name__)

COOLING_OFF = timedelta(days=7)


@dataclass
class DueErasures:
    """What the daily run erased: how many people, and Rasa senders to forget after commit."""

    erased: int = 0
    senders: list[str] = field(default_factory=list)


def pending(session: Session, customer_id: int) -> DataRequest | None:
    """The customer's erasure waiting out its cooling-off, if any."""
    stmt = select(DataRequest).where(
        DataRequest.customer_id == customer_id,
        DataRequest.kind == ERASURE,
        DataRequest.status == PENDING,
    )
    return session.scalars(stmt.order_by(DataRequest.id)).first()


def erases_on(request: DataRequest) -> date:
    """The day (China time) of the daily run that erases, unless withdrawn before it: the
    first one after the full cooling-off."""
    ends = (as_utc(request.created_at) + COOLING_OFF).astimezone(SHANGHAI).date()
    return ends + timedelta(days=1)


def start_of(day: date) -> datetime:
    """Midnight (China time) at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def schedule(session: Session, customer_id: int, channel: str, by: str) -> DataRequest:
    """File the erasure (once); ErasureBlocked while a repair ticket holds their tool."""
    existing = pending(session, customer_id)
    if existing is not None:
        return existing
    blocked = erasure.blocking_tickets(session, customer_id)
    if blocked:
        raise erasure.ErasureBlocked(blocked)
    request = DataRequest(
        customer_id=customer_id, kind=ERASURE, status=PENDING, channel=channel, requested_by=by
    )
    session.add(request)
    session.flush()
    return request


def withdraw(session: Session, customer_id: int, by: str) -> bool:
    """Withdraw a pending erasure (the customer came back); True when there was one."""
    request = pending(session, customer_id)
    if request is None:
        return False
    request.status, request.decided_by, request.decided_at = CANCELLED, by[:64], utcnow()
    session.flush()
    return True


def run_due(session: Session, today: date) -> DueErasures:
    """Erase everyone whose cooling-off ended before `today` began (so `erases_on` is the day);
    one whose tool is still with us waits for a later run."""
    stmt = select(DataRequest).where(
        DataRequest.kind == ERASURE,
        DataRequest.status == PENDING,
        DataRequest.created_at < start_of(today) - COOLING_OFF,
    )
    done = DueErasures()
    for request in session.scalars(stmt.order_by(DataRequest.id)).all():
        try:
            with session.begin_nested():
                result = erasure.erase(
                    session, request.customer_id, request.channel, "daily-job", request
                )
        except erasure.ErasureBlocked as exc:
            log.warning("erasure request %d waits: %s", request.id, exc.detail)
            continue
        done.erased += 1
        done.senders += result.senders
    return done
