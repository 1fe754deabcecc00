"""Who a campaign reaches: members by tier, birthday month, dormancy, or RFM score.

Members are customers with a verified phone (coupons are bound to a member account). A
purchase is a member's when linked to them or recorded under their phone and not linked.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, extract, func, or_, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import SHANGHAI
from crm.purchases.models import Purchase


@dataclass(frozen=True)
class Tier:
    """Members of one tier (普通会员, 银卡, 金卡, 钻石)."""

    name: str


@dataclass(frozen=True)
class BirthdayMonth:
    """Members born in `month` (1–12)."""

    month: int


@dataclass(frozen=True)
class Dormant:
    """Members who bought before but not in the last `days` days."""

    days: int = 90


@dataclass(frozen=True)
class Rfm:
    """Buyers whose recency + frequency + monetary quintile scores (each 1–5) reach `min_score`."""

    min_score: int = 12


Segment = Tier | BirthdayMonth | Dormant | Rfm


@dataclass(frozen=True)
class RfmScore:
    """Quintile scores among all buyers, 5 the best: recent, frequent, big-spending."""

    recency: int
    frequency: int
    monetary: int

    @property
    def total(self) -> int:
        """The sum of the three scores, 3–15."""
        return self.recency + self.frequency + self.monetary


def members_of(session: Session, segment: Segment, today: date) -> list[int]:
    """Ids of the members in `segment` on `today`, ascending."""
    if isinstance(segment, Tier):
        stmt = select(Customer.id).where(_member(), Customer.tier == segment.name)
        return list(session.scalars(stmt.order_by(Customer.id)))
    if isinstance(segment, BirthdayMonth):
        born = extract("month", Customer.birthday) == segment.month
        return list(
            session.scalars(select(Customer.id).where(_member(), born).order_by(Customer.id))
        )
    if isinstance(segment, Dormant):
        since = start_of(today - timedelta(days=segment.days))
        stmt = (
            select(Customer.id)
            .join(Purchase, owns())
            .where(_member(), Purchase.paid_at < start_of(today + timedelta(days=1)))
            .group_by(Customer.id)
            .having(func.max(Purchase.paid_at) < since)
        )
        return sorted(session.scalars(stmt))
    scores = rfm_scores(session, today)
    return sorted(cid for cid, score in scores.items() if score.total >= segment.min_score)


def rfm_scores(session: Session, today: date) -> dict[int, RfmScore]:
    """Each buying member's RFM quintile scores over their purchases up to `today`."""
    # A value scores 1 + 5 × (share of buyers doing strictly worse): ties share a score.
    stmt = (
        select(
            Customer.id,
            func.max(Purchase.paid_at),
            func.count(Purchase.id),
            func.sum(Purchase.price_yuan),
        )
        .join(Purchase, owns())
        .where(_member(), Purchase.paid_at < start_of(today + timedelta(days=1)))
        .group_by(Customer.id)
    )
    rows = [
        (cid, (today - local_day(last)).days, count, Decimal(str(total)))
        for cid, last, count, total in session.execute(stmt)
    ]
    recencies = sorted(r[1] for r in rows)
    counts = sorted(r[2] for r in rows)
    totals = sorted(r[3] for r in rows)
    n = len(rows)
    return {
        cid: RfmScore(
            recency=1 + (n - bisect_right(recencies, days)) * 5 // n,  # fewer days is better
            frequency=1 + bisect_left(counts, count) * 5 // n,
            monetary=1 + bisect_left(totals, total) * 5 // n,
        )
        for cid, days, count, total in rows
    }


def _member() -> ColumnElement[bool]:
    return Customer.phone.is_not(None)


def owns() -> ColumnElement[bool]:
    """Join condition: the purchase is the customer's (linked, or under their phone unlinked)."""
    return or_(
        Purchase.customer_id == Customer.id,
        and_(Purchase.customer_id.is_(None), Purchase.member_phone_hash == Customer.phone_hash),
    )


def start_of(day: date) -> datetime:
    """Midnight of `day` in the shops' time zone, in UTC as purchases are stored."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def local_day(moment: datetime) -> date:
    """The shops' calendar day of a stored moment."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite: naive UTC
    return aware.astimezone(SHANGHAI).date()
