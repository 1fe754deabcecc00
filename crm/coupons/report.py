"""The back office's coupon figures and issue checks: read-only; issuing stays in service.py.

A campaign is a coupon type of the catalogue (CPN-*). Figures count the coupons issued in a
window of issue days (a coupon's first valid day is its issue day, catalogue.terms) and say
where each stands on `today`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from crm.coupons import catalogue, segments
from crm.coupons.models import EXPIRED, ISSUED, REDEEMED, VOID, Coupon
from crm.errors import Conflict, Forbidden, InvalidInput
from crm.knowledge.models import Rule
from crm.members.tiers import tier_table
from crm.staff.service import SUPERVISORS

FORM_KEY_PREFIX = "bo-issue:"
FORM_KEY = re.compile(rf"^{FORM_KEY_PREFIX}[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}$")
NOT_ALLOWED = "只有主管和管理员可以发放优惠券"
STALE_FORM = "表单已失效，请刷新页面后重新提交"
UNKNOWN_SEGMENT = "请从列表中选择发放对象"


@dataclass(frozen=True)
class Window:
    """Issue days from `start` to `end`, both inclusive; None leaves that side open."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Figures:
    """Coupons issued in a window and where they stand: redeemed, expired, valid or void."""

    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    valid: int = 0
    void: int = 0
    value_redeemed_yuan: Decimal = Decimal("0.00")

    @property
    def rate_percent(self) -> Decimal | None:
        """Redeemed per hundred issued, to one decimal; None when nothing was issued."""
        if not self.issued:
            return None
        return (Decimal(100 * self.redeemed) / self.issued).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Campaign:
    """A coupon type as the back office offers it."""

    type_id: str
    name: str
    text: str
    issued_by: str | None  # campaign coupons name their occasions; the others issue by rule
    thresholds: tuple[Decimal, ...] = ()  # the faces of a 满减券 to choose from
    catalogued: bool = True

    @property
    def issuable(self) -> bool:
        """Staff may issue it to a segment (campaign coupons only)."""
        return self.catalogued and self.issued_by is not None


@dataclass(frozen=True)
class CampaignFigures:
    """One line of the campaign list."""

    campaign: Campaign
    figures: Figures


@dataclass(frozen=True)
class SegmentPreview:
    """A segment the issue form offers and how many members it reaches today."""

    key: str
    label: str
    members: int


@dataclass(frozen=True)
class CampaignPage:
    """One campaign's page: its figures and, for supervisors, the issue form."""

    campaign: Campaign
    figures: Figures
    may_issue: bool
    segments: list[SegmentPreview] = field(default_factory=list)
    form_key: str = ""


@dataclass(frozen=True)
class IssuePlan:
    """A checked issue form: what to issue to whom, under the form's idempotency key."""

    campaign: Campaign
    segment: segments.Segment
    segment_label: str
    threshold_yuan: Decimal | None
    form_key: str
    already_issued: int  # by an earlier submission of the same form


def parse_window(start: str, end: str) -> Window:
    """The window of `start` and `end` as typed (YYYY-MM-DD, blank for open)."""
    try:
        first = date.fromisoformat(start.strip()) if start.strip() else None
        last = date.fromisoformat(end.strip()) if end.strip() else None
    except ValueError as exc:
        raise InvalidInput("日期格式应为 YYYY-MM-DD，例如 2026-03-01") from exc
    if first and last and first > last:
        raise InvalidInput("开始日期不能晚于结束日期")
    return Window(first, last)


def campaigns(session: Session) -> list[Campaign]:
    """Every coupon type of the catalogue, by id."""
    rules = session.scalars(
        select(Rule).where(Rule.section == catalogue.TYPES_SECTION).order_by(Rule.id)
    )
    return [_campaign(rule.id, rule.data) for rule in rules]


def campaign(session: Session, type_id: str) -> Campaign:
    """The coupon type `type_id`, or NotFound."""
    return _campaign(type_id, catalogue.type_rule(session, type_id))


def _campaign(type_id: str, data: dict[str, object]) -> Campaign:
    examples = data.get("examples")
    thresholds = tuple(
        Decimal(str(e["threshold_yuan"])).quantize(catalogue.CENT)
        for e in (examples if isinstance(examples, list) else [])
    )
    issued_by = data.get("issued_by")
    return Campaign(
        type_id=type_id,
        name=str(data.get("name", type_id)),
        text=str(data.get("text", "")),
        issued_by=str(issued_by) if issued_by else None,
        thresholds=thresholds if len(thresholds) > 1 else (),
    )


def figures_of(session: Session, type_id: str, today: date, window: Window = Window()) -> Figures:
    """The figures of one coupon type for the coupons issued in `window`, as they stand `today`."""
    return _figures(session, today, window, type_id).get(type_id, ("", Figures()))[1]


def _figures(
    session: Session, today: date, window: Window, type_id: str | None = None
) -> dict[str, tuple[str, Figures]]:
    """(name, figures) by type id, one grouped query."""
    lapsed = or_(
        Coupon.status == EXPIRED, and_(Coupon.status == ISSUED, Coupon.valid_until < today)
    )
    chosen = [] if type_id is None else [Coupon.type_id == type_id]
    stmt = (
        select(
            Coupon.type_id,
            func.max(Coupon.name),
            func.count(),
            _count(Coupon.status == REDEEMED),
            _count(lapsed),
            _count(and_(Coupon.status == ISSUED, Coupon.valid_until >= today)),
            _count(Coupon.status == VOID),
            func.sum(case((Coupon.status == REDEEMED, Coupon.redeemed_discount_yuan))),
        )
        .where(*_in_window(window), *chosen)
        .group_by(Coupon.type_id)
    )
    return {
        found: (name, Figures(issued, redeemed, expired, valid, void, _yuan(value)))
        for found, name, issued, redeemed, expired, valid, void, value in session.execute(stmt)
    }


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _in_window(window: Window) -> list[ColumnElement[bool]]:
    start = [] if window.start is None else [Coupon.valid_from >= window.start]
    return start + ([] if window.end is None else [Coupon.valid_from <= window.end])


def _yuan(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(catalogue.CENT)


def overview(session: Session, today: date, window: Window = Window()) -> list[CampaignFigures]:
    """Every campaign with its figures; types no longer catalogued follow by their coupons' name."""
    found = _figures(session, today, window)
    listed = [
        CampaignFigures(c, found.get(c.type_id, ("", Figures()))[1]) for c in campaigns(session)
    ]
    known = {line.campaign.type_id for line in listed}
    gone = [
        CampaignFigures(Campaign(type_id, name, "", None, catalogued=False), numbers)
        for type_id, (name, numbers) in sorted(found.items())
        if type_id not in known
    ]
    return listed + gone


def may_issue(role: str) -> bool:
    """Supervisors and admins may issue coupons to a segment."""
    return role in SUPERVISORS


def new_form_key() -> str:
    """A fresh idempotency key for one issue form (a double submit posts it twice)."""
    return f"{FORM_KEY_PREFIX}{uuid.uuid4()}"


def offered_segments(session: Session, today: date) -> dict[str, tuple[str, segments.Segment]]:
    """The segments the issue form offers, by form key, with their labels."""
    offered: dict[str, tuple[str, segments.Segment]] = {
        f"tier:{tier.name}": (tier.name.removesuffix("会员") + "会员", segments.Tier(tier.name))
        for tier in tier_table(session)
    }
    for month in (today.month, today.month % 12 + 1):
        offered[f"birthday:{month}"] = (f"{month} 月生日的会员", segments.BirthdayMonth(month))
    for days in (segments.Dormant().days, 180):
        offered[f"dormant:{days}"] = (f"{days} 天未消费的老顾客", segments.Dormant(days))
    score = segments.Rfm().min_score
    offered[f"rfm:{score}"] = (f"高价值顾客（RFM 总分 ≥ {score}）", segments.Rfm(score))
    return offered


def preview(session: Session, today: date) -> list[SegmentPreview]:
    """Each offered segment with how many members it reaches `today`."""
    return [
        SegmentPreview(key, label, len(segments.members_of(session, segment, today)))
        for key, (label, segment) in offered_segments(session, today).items()
    ]


def campaign_page(
    session: Session, type_id: str, role: str, today: date, window: Window = Window()
) -> CampaignPage:
    """What one campaign's page shows a staff member of `role`."""
    found = campaign(session, type_id)
    numbers = figures_of(session, type_id, today, window)
    if not (found.issuable and may_issue(role)):
        return CampaignPage(found, numbers, may_issue(role))
    return CampaignPage(found, numbers, True, preview(session, today), new_form_key())


def plan_issue(
    session: Session,
    type_id: str,
    role: str,
    segment_key: str,
    threshold: str,
    form_key: str,
    today: date,
) -> IssuePlan:
    """Check an issue form; Forbidden, NotFound, Conflict or InvalidInput say what is wrong."""
    if not may_issue(role):
        raise Forbidden(NOT_ALLOWED)
    found = campaign(session, type_id)
    if not found.issuable:
        raise Conflict(f"{found.name}由系统按会员规则自动发放，不能在后台按人群发放")
    if not FORM_KEY.match(form_key):
        raise InvalidInput(STALE_FORM)
    chosen = offered_segments(session, today).get(segment_key)
    if chosen is None:
        raise InvalidInput(UNKNOWN_SEGMENT)
    already = session.scalar(
        select(func.count()).where(
            Coupon.idempotency_key.startswith(f"{form_key}:", autoescape=True)
        )
    )
    label, segment = chosen
    return IssuePlan(found, segment, label, _threshold(found, threshold), form_key, already or 0)


def _threshold(found: Campaign, typed: str) -> Decimal | None:
    if not found.thresholds:
        return None
    try:
        chosen: Decimal | None = Decimal(typed.strip()).quantize(catalogue.CENT)
    except ArithmeticError:  # not a number
        chosen = None
    if chosen not in found.thresholds:
        offered = "、".join(f"{t.normalize():f}" for t in found.thresholds)
        raise InvalidInput(f"请选择{found.name}的门槛：{offered} 元")
    return chosen
