"""The back office's coupon figures per campaign over a window, segment previews, issue checks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm.coupons import report, service
from crm.coupons.models import VOID, Coupon
from crm.coupons.report import Figures, Window
from crm.coupons.segments import Tier, members_of
from crm.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.crm.coupons.conftest import key, member, order_no

# Issue days no other test uses: the window sees only this module's coupons.
APRIL = Window(date(2011, 4, 1), date(2011, 4, 30))
ON = date(2011, 5, 1)  # the day the figures are read


def _issue(db: Session, type_id: str, on: date) -> Coupon:
    return service.issue(db, member(db).id, type_id, key(), on)


def _redeem(db: Session, coupon: Coupon, amount: str, on: date) -> None:
    service.redeem(db, coupon.code, coupon.customer_id, order_no(), Decimal(amount), on)


def _april(db: Session) -> None:
    """ZK: 4 in April (1 used, 2 expired by the job, 1 void); WX: 3 in April, 1 of them used."""
    zk = [_issue(db, "CPN-ZK", date(2011, 4, 1)) for _ in range(4)]  # valid until 04-15
    _redeem(db, zk[0], "300", date(2011, 4, 5))  # 9 折: 30.00 off
    zk[3].status = VOID
    _issue(db, "CPN-ZK", date(2011, 3, 31))  # before the window
    db.flush()
    service.expire_due(db, date(2011, 4, 16))
    wx = [_issue(db, "CPN-WX", date(2011, 4, 30)) for _ in range(3)]  # valid until 07-28
    _redeem(db, wx[0], "50", date(2011, 4, 30))  # 20.00 off
    before = _issue(db, "CPN-WX", date(2011, 3, 31))
    _redeem(db, before, "50", date(2011, 4, 2))  # redeemed in April, issued before it
    _issue(db, "CPN-WX", date(2011, 5, 1))  # after the window
    db.flush()


def test_figures_per_campaign_count_the_windows_coupons_as_they_stand(db: Session) -> None:
    _april(db)
    assert report.figures_of(db, "CPN-ZK", ON, APRIL) == Figures(
        issued=4, redeemed=1, expired=2, valid=0, void=1, value_redeemed_yuan=Decimal("30.00")
    )
    wx = report.figures_of(db, "CPN-WX", ON, APRIL)
    assert wx == Figures(3, 1, 0, 2, 0, Decimal("20.00"))
    assert (wx.rate_percent, report.figures_of(db, "CPN-ZK", ON, APRIL).rate_percent) == (
        Decimal("33.3"),
        Decimal("25.0"),
    )
    # Read on 07-29 the unused April WX coupons have lapsed, before the expiry job ran.
    assert report.figures_of(db, "CPN-WX", date(2011, 7, 29), APRIL) == Figures(
        3, 1, 2, 0, 0, Decimal("20.00")
    )
    march = Window(date(2011, 3, 31), date(2011, 3, 31))
    assert report.figures_of(db, "CPN-WX", ON, march) == Figures(1, 1, 0, 0, 0, Decimal("20.00"))
    assert report.figures_of(db, "CPN-ZK", ON, Window(end=date(2011, 4, 30))).issued == 5
    assert report.figures_of(db, "CPN-SR", ON, APRIL) == Figures()
    assert Figures().rate_percent is None


def test_the_overview_lists_every_campaign_with_its_figures(db: Session) -> None:
    _april(db)
    gone = Coupon(
        code="OLDTYPE2",
        customer_id=member(db).id,
        type_id="CPN-OLD",
        name="店庆券",
        face_value_yuan=Decimal("5.00"),
        threshold_yuan=Decimal("0.00"),
        valid_from=date(2011, 4, 20),
        valid_until=date(2011, 4, 20),
        idempotency_key=key(),
    )
    db.add(gone)
    db.flush()
    rows = {row.campaign.type_id: row for row in report.overview(db, ON, APRIL)}
    catalogued = ["CPN-MJ", "CPN-SR", "CPN-TJ", "CPN-WX", "CPN-XR", "CPN-ZK"]
    assert list(rows) == [*catalogued, "CPN-OLD"]
    assert {t for t, row in rows.items() if row.campaign.issuable} == {"CPN-MJ", "CPN-ZK"}
    assert rows["CPN-MJ"].campaign.thresholds == tuple(Decimal(t) for t in ("300", "800", "2000"))
    assert rows["CPN-ZK"].campaign.thresholds == ()
    assert rows["CPN-ZK"].figures == report.figures_of(db, "CPN-ZK", ON, APRIL)
    assert rows["CPN-WX"].figures.issued == 3 and rows["CPN-XR"].figures == Figures()
    old = rows["CPN-OLD"]
    assert (old.campaign.name, old.campaign.catalogued, old.campaign.issuable) == (
        "店庆券",
        False,
        False,
    )
    assert (old.figures.issued, old.figures.expired) == (1, 1)


def test_the_segment_preview_counts_the_members_a_segment_reaches(db: Session) -> None:
    day = date(2011, 4, 15)
    counts = {p.key: p.members for p in report.preview(db, day)}
    assert set(counts) == {
        "tier:普通会员",
        "tier:银卡",
        "tier:金卡",
        "tier:钻石",
        "birthday:4",
        "birthday:5",
        "dormant:90",
        "dormant:180",
        "rfm:12",
    }
    for _ in range(2):
        member(db, "钻石")
    after = {p.key: p.members for p in report.preview(db, day)}
    assert after["tier:钻石"] == counts["tier:钻石"] + 2 == len(members_of(db, Tier("钻石"), day))
    assert after["tier:金卡"] == counts["tier:金卡"]
    december = {p.key for p in report.preview(db, date(2011, 12, 1))}
    assert {"birthday:12", "birthday:1"} <= december


def test_a_campaign_page_offers_the_issue_form_to_supervisors_only(db: Session) -> None:
    for role in ("supervisor", "admin"):
        page = report.campaign_page(db, "CPN-MJ", role, ON, APRIL)
        assert page.may_issue and page.segments and page.form_key.startswith("bo-issue:")
    agent = report.campaign_page(db, "CPN-MJ", "agent", ON)
    assert (agent.may_issue, agent.segments, agent.form_key) == (False, [], "")
    automatic = report.campaign_page(db, "CPN-SR", "admin", ON)
    assert not automatic.campaign.issuable and automatic.segments == []
    assert report.campaign_page(db, "CPN-MJ", "admin", ON).form_key != page.form_key
    with pytest.raises(NotFound):
        report.campaign_page(db, "CPN-GEN-001", "admin", ON)


def test_an_issue_form_is_checked_before_anything_is_issued(db: Session) -> None:
    form = report.new_form_key()

    def plan(type_id: str = "CPN-MJ", role: str = "supervisor", **kw: str) -> report.IssuePlan:
        args = {"segment_key": "tier:钻石", "threshold": "800", "form_key": form, **kw}
        return report.plan_issue(db, type_id, role, today=ON, **args)

    with pytest.raises(Forbidden, match="只有主管和管理员"):
        plan(role="agent")
    with pytest.raises(NotFound):
        plan("CPN-XX")
    with pytest.raises(Conflict, match="自动发放"):
        plan("CPN-SR")
    with pytest.raises(InvalidInput, match="表单已失效"):
        plan(form_key="birthday:2011")
    with pytest.raises(InvalidInput, match="发放对象"):
        plan(segment_key="tier:黑卡")
    for wrong in ("", "500", "八百"):
        with pytest.raises(InvalidInput, match="300、800、2000"):
            plan(threshold=wrong)
    checked = plan()
    assert (checked.segment, checked.segment_label, checked.threshold_yuan) == (
        Tier("钻石"),
        "钻石会员",
        Decimal("800.00"),
    )
    assert plan("CPN-ZK", threshold="ignored").threshold_yuan is None
    assert checked.already_issued == 0
    diamonds = [member(db, "钻石") for _ in range(2)]
    issued = service.issue_to_segment(
        db, Tier("钻石"), "CPN-MJ", form, ON, threshold_yuan=Decimal(800)
    )
    assert issued >= len(diamonds)
    assert plan().already_issued == issued  # the same form posted again
    assert plan(form_key=report.new_form_key()).already_issued == 0


def test_parse_window_reads_typed_dates() -> None:
    assert report.parse_window(" ", "") == Window()
    assert report.parse_window("2026-03-01", " 2026-03-31 ") == Window(
        date(2026, 3, 1), date(2026, 3, 31)
    )
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        report.parse_window("2026/03/01", "")
    with pytest.raises(InvalidInput, match="不能晚于"):
        report.parse_window("2026-03-02", str(date(2026, 3, 2) - timedelta(days=1)))
