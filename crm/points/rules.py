"""Readings of the PTS-* and MEM-BDAY-* rules: earning, rewards, expiry and redemption numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from crm.db import SHANGHAI
from crm.errors import KnowledgeBaseError
from crm.knowledge.rules import number_in, rule

EARNING = "PTS-EARN-001"
BIRTHDAY = "MEM-BDAY-001"
REDEMPTION = "PTS-USE-001"
EXPIRY = "PTS-EXP-001"
REVIEWS = "PTS-EARN-003"
REFERRALS = "PTS-EARN-004"
CREDITING = "PTS-CRD-001"


@dataclass(frozen=True)
class Redemption:
    """PTS-USE-001: points per yuan, the unit they are spent in, the most of an order they pay."""

    points_per_yuan: int
    unit_points: int
    max_share_of_order: Decimal


def today() -> date:
    """The business day in the shops' time zone."""
    return datetime.now(SHANGHAI).date()


def local_date(moment: datetime) -> date:
    """The Shanghai calendar day of a stored moment (SQLite returns naive UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(SHANGHAI).date()


def earned_points(
    session: Session, paid_yuan: Decimal, tier_multiplier: Decimal, birthday_month: bool
) -> int:
    """PTS-EARN-001 × tier multiplier (× MEM-BDAY-001 in the birthday month), rounded down."""
    base = Decimal(str(rule(session, EARNING)["base_points_per_yuan"]))
    points = paid_yuan * base * tier_multiplier
    if birthday_month:
        points *= Decimal(str(rule(session, BIRTHDAY)["points_multiplier_in_birthday_month"]))
    return max(math.floor(points), 0)


def expires_on(session: Session, credited_on: date) -> date:
    """PTS-EXP-001: the last day of points credited on `credited_on` (12-31 of the next year)."""
    # The rule carries no number field, only its sentence: 「每个自然年获得的积分于次年 12 月
    # 31 日 24:00 过期」. Read month and day from it and refuse a sentence that changed shape.
    text = str(rule(session, EXPIRY).get("rule", ""))
    if "次年" not in text:
        raise KnowledgeBaseError("membership.yml", EXPIRY, "rule no longer says 次年 (next year)")
    month = number_in(session, EXPIRY, "rule", r"(\d+)\s*月")
    day = number_in(session, EXPIRY, "rule", r"(\d+)\s*日")
    return date(credited_on.year + 1, month, day)


def reminder_days(session: Session) -> int:
    """PTS-EXP-001: days before expiry the member is reminded."""
    return int(rule(session, EXPIRY)["reminder_days_before"])


def redemption(session: Session) -> Redemption:
    """PTS-USE-001's numbers."""
    data = rule(session, REDEMPTION)
    return Redemption(
        points_per_yuan=int(data["points_per_yuan"]),
        unit_points=int(data["unit_points"]),
        max_share_of_order=Decimal(str(data["max_share_of_order"])),
    )


def points_to_yuan(points: int, terms: Redemption) -> Decimal:
    """What `points` are worth in yuan (100 points = 1 yuan)."""
    return (Decimal(points) / terms.points_per_yuan).quantize(Decimal("0.01"))


def order_cap(order_yuan: Decimal, terms: Redemption) -> int:
    """The most points an order of `order_yuan` (after discounts and coupons) may use, in units."""
    most = math.floor(order_yuan * terms.max_share_of_order * terms.points_per_yuan)
    return most - most % terms.unit_points


@dataclass(frozen=True)
class ReviewTerms:
    """PTS-EARN-003: points for a text or a photo review, its window and the monthly cap."""

    text_points: int
    text_min_chars: int
    photo_points: int
    window_days: int
    monthly_cap: int


@dataclass(frozen=True)
class ReferralTerms:
    """PTS-EARN-004 and PTS-CRD-001: the referral reward and what the friend's order must meet."""

    points: int
    first_order_min_yuan: Decimal
    first_order_window_days: int
    monthly_cap_people: int
    paid_after_days: int


def review_terms(session: Session) -> ReviewTerms:
    """PTS-EARN-003's numbers."""
    data = rule(session, REVIEWS)
    return ReviewTerms(
        text_points=int(data["review_text_points"]),
        text_min_chars=int(data["review_text_min_chars"]),
        photo_points=int(data["review_photo_points"]),
        window_days=int(data["review_window_days"]),
        monthly_cap=int(data["review_monthly_cap"]),
    )


def referral_terms(session: Session) -> ReferralTerms:
    """PTS-EARN-004's numbers, and PTS-CRD-001's day the reward is paid after delivery."""
    data = rule(session, REFERRALS)
    return ReferralTerms(
        points=int(data["referral_points"]),
        first_order_min_yuan=Decimal(str(data["referral_first_order_min_yuan"])),
        first_order_window_days=int(data["referral_first_order_window_days"]),
        monthly_cap_people=int(data["referral_monthly_cap_people"]),
        paid_after_days=int(rule(session, CREDITING)["credit_on_day"]),
    )


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """The Shanghai calendar month of `day` as [start, end) moments."""
    start = datetime(day.year, day.month, 1, tzinfo=SHANGHAI)
    end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end
